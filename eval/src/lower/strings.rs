//! String literals: escapes and the indentation stripping of `''…''`.
//!
//! rnix gives the raw text between interpolations; this module applies
//! Nix 2.8's lexer rules to it (`\n`, `''$`, `'''`, `''\x`, CR/LF
//! normalisation) and then its `stripIndentation`: the smallest indentation
//! of the non-blank lines is removed, where escapes and interpolations end a
//! line's leading whitespace, and a final line of only spaces is dropped.

/// One piece of a string literal before indentation stripping.
pub enum Piece<T> {
    /// Literal text; `indented` is false for escapes, which do not count
    /// as indentation.
    Text {
        /// The text.
        text: String,
        /// Whether leading spaces in it are indentation.
        indented: bool,
    },
    /// An interpolation.
    Interp(T),
}

/// Interprets the escapes of a `"…"` string's raw text.
pub fn unescape_double(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            '\r' => {
                out.push('\n');
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Splits the raw text of an indented string (between interpolations)
/// into Nix's lexer tokens.
pub fn lex_indented<T>(raw: &str, out: &mut Vec<Piece<T>>) {
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let plain = plain_run(b, i);
        let rest = &raw[i..];
        let (len, text, indented) = if rest.starts_with("''\\") && rest.len() > 3 {
            let ch = rest[3..].chars().next().unwrap_or('\\');
            let escaped = unescape_double(&format!("\\{ch}"));
            (3 + ch.len_utf8(), escaped, false)
        } else if rest.starts_with("'''") && plain < 3 {
            (3, "''".to_owned(), false)
        } else if rest.starts_with("''$") && plain < 3 {
            (3, "$".to_owned(), false)
        } else if plain > 0 {
            (plain, rest[..plain].to_owned(), true)
        } else if rest.starts_with('$') {
            (1, "$".to_owned(), false)
        } else {
            (1, "'".to_owned(), false)
        };
        push_text(out, text, indented);
        i += len;
    }
}

fn push_text<T>(out: &mut Vec<Piece<T>>, text: String, indented: bool) {
    out.push(Piece::Text { text, indented });
}

/// Length of the longest match of `([^$']|$[^{']|'[^'$])+` at `i`.
fn plain_run(b: &[u8], start: usize) -> usize {
    let mut j = start;
    while let Some(&c) = b.get(j) {
        match c {
            b'$' => match b.get(j + 1) {
                Some(&n) if n != b'{' && n != b'\'' => j += 2,
                _ => break,
            },
            b'\'' => match b.get(j + 1) {
                Some(&n) if n != b'\'' && n != b'$' => j += 2,
                _ => break,
            },
            _ => j += 1,
        }
    }
    // Never split a UTF-8 sequence (the two-byte steps above may land
    // inside one only if the second byte is a continuation byte).
    while j > start && j < b.len() && (b[j] & 0xC0) == 0x80 {
        j += 1;
    }
    j - start
}

/// Applies Nix's indentation stripping to the pieces of an indented string.
pub fn strip_indentation<T>(pieces: Vec<Piece<T>>) -> Vec<Piece<T>> {
    let min_indent = min_indentation(&pieces);
    let mut out = Vec::with_capacity(pieces.len());
    let mut at_line_start = true;
    let mut dropped = 0usize;
    let n = pieces.len();
    for (k, piece) in pieces.into_iter().enumerate() {
        match piece {
            Piece::Interp(e) => {
                at_line_start = false;
                dropped = 0;
                out.push(Piece::Interp(e));
            }
            Piece::Text { text, .. } => {
                let mut s = String::with_capacity(text.len());
                for c in text.chars() {
                    if at_line_start {
                        if c == ' ' {
                            if dropped >= min_indent {
                                s.push(c);
                            }
                            dropped += 1;
                        } else if c == '\n' {
                            dropped = 0;
                            s.push(c);
                        } else {
                            at_line_start = false;
                            dropped = 0;
                            s.push(c);
                        }
                    } else {
                        s.push(c);
                        if c == '\n' {
                            at_line_start = true;
                        }
                    }
                }
                if k + 1 == n
                    && let Some(p) = s.rfind('\n')
                    && s[p + 1..].bytes().all(|c| c == b' ')
                {
                    s.truncate(p + 1);
                }
                out.push(Piece::Text {
                    text: s,
                    indented: true,
                });
            }
        }
    }
    out
}

fn min_indentation<T>(pieces: &[Piece<T>]) -> usize {
    let mut at_line_start = true;
    let mut min_indent = 1_000_000usize;
    let mut cur = 0usize;
    for piece in pieces {
        let text = match piece {
            Piece::Text {
                text,
                indented: true,
            } => text,
            _ => {
                if at_line_start {
                    at_line_start = false;
                    min_indent = min_indent.min(cur);
                }
                continue;
            }
        };
        for c in text.chars() {
            if at_line_start {
                if c == ' ' {
                    cur += 1;
                } else if c == '\n' {
                    cur = 0;
                } else {
                    at_line_start = false;
                    min_indent = min_indent.min(cur);
                }
            } else if c == '\n' {
                at_line_start = true;
                cur = 0;
            }
        }
    }
    min_indent
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(raw: &str) -> String {
        let mut pieces: Vec<Piece<()>> = Vec::new();
        lex_indented(raw, &mut pieces);
        strip_indentation(pieces)
            .into_iter()
            .map(|p| match p {
                Piece::Text { text, .. } => text,
                Piece::Interp(()) => String::new(),
            })
            .collect()
    }

    #[test]
    fn strips_common_indentation() {
        assert_eq!(strip("  a\n    b\n  "), "a\n  b\n");
    }

    #[test]
    fn escapes() {
        assert_eq!(strip("''$ ''' ''\\n"), "$ '' \n");
        assert_eq!(unescape_double("a\\tb\\\"\\$"), "a\tb\"$");
    }
}
