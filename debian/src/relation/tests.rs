use super::*;

fn parse(field: &str) -> Vec<Relation> {
    parse_relations(field).unwrap()
}

#[test]
fn real_depends_line() {
    let relations = parse(
        "libc6 (>= 2.34), libgcc-s1 (>= 3.0), libstd-rust-dev (= 1.97.1+dfsg1-1), gcc, libc-dev, binutils (>= 2.26)",
    );
    assert_eq!(relations.len(), 6);
    let first = &relations[0][0];
    assert_eq!(first.name, "libc6");
    let constraint = first.constraint.as_ref().unwrap();
    assert_eq!(constraint.op, Op::LaterEqual);
    assert_eq!(constraint.version.as_str(), "2.34");
    assert_eq!(relations[3][0].to_string(), "gcc");
    assert_eq!(
        relations[2][0].to_string(),
        "libstd-rust-dev (= 1.97.1+dfsg1-1)"
    );
}

#[test]
fn alternatives_and_qualifiers() {
    let relations = parse("debconf (>= 0.5) | debconf-2.0,perl:any|  perl-base:native (>>5.0)");
    assert_eq!(relations.len(), 2);
    assert_eq!(relations[0].len(), 2);
    assert_eq!(relations[0][1].name, "debconf-2.0");
    assert_eq!(relations[1][0].arch.as_deref(), Some("any"));
    assert_eq!(relations[1][1].arch.as_deref(), Some("native"));
    assert_eq!(relations[1][1].constraint.as_ref().unwrap().op, Op::Later);
}

#[test]
fn all_operators() {
    let ops: Vec<Op> = parse("a (<< 1), b (<= 1), c (= 1), d (>= 1), e (>> 1)")
        .iter()
        .map(|r| r[0].constraint.as_ref().unwrap().op)
        .collect();
    assert_eq!(
        ops,
        [
            Op::Earlier,
            Op::EarlierEqual,
            Op::Equal,
            Op::LaterEqual,
            Op::Later
        ]
    );
    let at = |op, v: &str| {
        Constraint {
            op,
            version: Version::parse("2.0").unwrap(),
        }
        .allows(&Version::parse(v).unwrap())
    };
    assert!(at(Op::Earlier, "1.9") && !at(Op::Earlier, "2.0"));
    assert!(at(Op::EarlierEqual, "2.0") && !at(Op::EarlierEqual, "2.0.1"));
    assert!(at(Op::Equal, "2.0-0") && !at(Op::Equal, "2.0-1"));
    assert!(at(Op::LaterEqual, "2.0") && !at(Op::LaterEqual, "2.0~rc1"));
    assert!(at(Op::Later, "2.0+b1") && !at(Op::Later, "2.0"));
}

#[test]
fn arch_and_profile_restrictions() {
    let relations = parse(
        "libseccomp-dev [amd64 arm64] <!nocheck>, gcc-multilib [!i386 !arm64], x [linux-any]",
    );
    let atom = &relations[0][0];
    assert_eq!(atom.arches.len(), 2);
    assert_eq!(atom.profiles, ["!nocheck"]);
    assert!(atom.applies_to("amd64"));
    assert!(!atom.applies_to("i386"));
    assert!(relations[1][0].applies_to("amd64"));
    assert!(!relations[1][0].applies_to("i386"));
    assert!(relations[2][0].applies_to("amd64"));
    assert!(parse("")[..].is_empty());
}

#[test]
fn errors() {
    for bad in [
        "a (~ 1)", "a (>= 1", "a b", "a, , b", "a:", "a [", "a (>= )", "| a",
    ] {
        assert!(parse_relations(bad).is_err(), "{bad} should not parse");
    }
    let err = parse_relations("a (> 1)").unwrap_err();
    assert!(err.to_string().contains("one of `<<`"), "{err}");
}
