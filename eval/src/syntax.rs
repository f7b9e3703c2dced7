//! Source files, positions, and parsing with rnix.
//!
//! Every parsed text is registered in a per-thread source table so that a
//! compact [`Pos`] (file id + byte offset) can be turned back into a file
//! name, a line and a column, and into a code frame for error messages.

use std::cell::RefCell;
use std::rc::Rc;

use crate::error::{Error, ErrorKind};

/// A position in a registered source: file id (0 = unknown) and byte offset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    /// The file's id in the source table; 0 means "no position".
    pub file: u32,
    /// The byte offset into the file's text.
    pub offset: u32,
}

impl Pos {
    /// The unknown position.
    pub const NONE: Pos = Pos { file: 0, offset: 0 };

    /// Whether the position is known.
    pub fn is_some(&self) -> bool {
        self.file != 0
    }
}

/// Where a source text came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A file on disk (absolute path).
    File(String),
    /// An expression given on the command line or as a string.
    String,
}

/// A registered source text.
pub struct Source {
    /// Where it came from.
    pub origin: Origin,
    /// Its text.
    pub text: Rc<str>,
    line_starts: Vec<u32>,
}

thread_local! {
    static SOURCES: RefCell<Vec<Rc<Source>>> = const { RefCell::new(Vec::new()) };
}

/// Registers a source text and returns its file id (never 0).
pub fn add_source(origin: Origin, text: Rc<str>) -> u32 {
    let mut line_starts = vec![0u32];
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            line_starts.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
        }
    }
    SOURCES.with(|s| {
        let mut s = s.borrow_mut();
        s.push(Rc::new(Source {
            origin,
            text,
            line_starts,
        }));
        u32::try_from(s.len()).unwrap_or(u32::MAX)
    })
}

/// Returns a registered source.
pub fn source(file: u32) -> Option<Rc<Source>> {
    if file == 0 {
        return None;
    }
    SOURCES.with(|s| s.borrow().get(file as usize - 1).cloned())
}

/// A resolved position: file name, 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The origin of the file.
    pub origin: Origin,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in bytes, as Nix counts).
    pub column: usize,
}

impl Source {
    /// Returns the 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts.get(line - 1).copied().unwrap_or(0);
        (line, (offset - start) as usize + 1)
    }

    /// Returns the text of a 1-based line, without its newline; empty for
    /// a line the source does not have.
    pub fn line_text(&self, line: usize) -> &str {
        let Some(&start) = self.line_starts.get(line.wrapping_sub(1)) else {
            return "";
        };
        let start = start as usize;
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |&e| e as usize);
        self.text
            .get(start..end)
            .unwrap_or("")
            .trim_end_matches(['\n', '\r'])
    }
}

/// Resolves a position to a file, line and column.
pub fn locate(pos: Pos) -> Option<Location> {
    let src = source(pos.file)?;
    let (line, column) = src.line_col(pos.offset);
    Some(Location {
        origin: src.origin.clone(),
        line,
        column,
    })
}

/// Parses a registered source with rnix, turning the first parse error into
/// an [`Error`] at its position.
pub fn parse(file: u32) -> Result<rnix::Root, Error> {
    let src = source(file).ok_or(Error::new(ErrorKind::Internal {
        what: "unknown source",
    }))?;
    // Nix ends a line at a lone CR (comments stop there); rnix does not.
    // Same length, so offsets stay valid.
    let text = normalise_lone_cr(&src.text);
    let parsed = rnix::Root::parse(&text);
    if let Some(err) = parsed.errors().first() {
        return Err(parse_error(file, err));
    }
    Ok(parsed.tree())
}

fn parse_error(file: u32, err: &rnix::ParseError) -> Error {
    use rnix::ParseError as P;
    let (offset, message) = match err {
        P::Unexpected(r) => (u32::from(r.start()), "unexpected token".to_owned()),
        P::UnexpectedExtra(r) => (u32::from(r.start()), "unexpected extra token".to_owned()),
        P::UnexpectedWanted(got, r, wanted) => (
            u32::from(r.start()),
            format!("unexpected {got:?}, wanted {wanted:?}"),
        ),
        P::UnexpectedDoubleBind(r) => (u32::from(r.start()), "unexpected double bind".to_owned()),
        P::UnexpectedEOF => (source_len(file), "unexpected end of file".to_owned()),
        P::UnexpectedEOFWanted(w) => (
            source_len(file),
            format!("unexpected end of file, wanted {w:?}"),
        ),
        P::DuplicatedArgs(r, name) => (
            u32::from(r.start()),
            format!("duplicate formal function argument '{name}'"),
        ),
        P::RecursionLimitExceeded => (0, "recursion limit exceeded".to_owned()),
        other => (0, format!("{other}")),
    };
    Error::new(ErrorKind::Syntax { message }).at(Pos { file, offset })
}

fn source_len(file: u32) -> u32 {
    source(file).map_or(0, |s| u32::try_from(s.text.len()).unwrap_or(u32::MAX))
}

/// Replaces each CR not followed by LF with LF.
fn normalise_lone_cr(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\r') {
        return std::borrow::Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if c == '\r' && bytes.get(i + 1) != Some(&b'\n') {
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}
