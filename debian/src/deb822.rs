//! The control-file syntax shared by `Release` and `Packages` (deb822):
//! paragraphs separated by blank lines, each a list of `Field: value`
//! lines, where a line that starts with a space or a tab continues the
//! field before it.
//!
//! Parsing borrows from the text: a `Packages` index is about 65 MB and
//! only a few fields of each paragraph are kept, so nothing is copied
//! until a caller asks for it. A field's value is the raw text after the
//! colon, continuation lines included (with their newlines), trimmed at
//! both ends; [`Paragraph::lines`] splits a multi-line value.

use thiserror::Error;

/// Why a control file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Deb822Error {
    /// A line inside a paragraph has no `:` and does not continue a field.
    #[error("line {line} is not a `Field: value` line: `{text}`")]
    NotAField {
        /// The line number, from 1.
        line: usize,
        /// The line.
        text: String,
    },
    /// A paragraph starts with a continuation line.
    #[error("line {line} continues a field, but no field came before it")]
    OrphanContinuation {
        /// The line number, from 1.
        line: usize,
    },
}

/// One paragraph: its fields in order, borrowed from the text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Paragraph<'a> {
    /// The line number (from 1) of the paragraph's first line.
    pub line: usize,
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Paragraph<'a> {
    /// Returns the value of the field `name` (compared without regard to
    /// case, as dpkg does), if the paragraph has it.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }

    /// Returns the lines of a multi-line field's value, trimmed, without
    /// the empty first line that such fields usually have.
    pub fn lines(&self, name: &str) -> impl Iterator<Item = &'a str> + use<'a> {
        self.get(name)
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
    }

    /// Returns the fields in order, as `(name, value)`.
    pub fn fields(&self) -> &[(&'a str, &'a str)] {
        &self.fields
    }
}

/// Returns an iterator over the paragraphs of `text`.
pub fn paragraphs(text: &str) -> Paragraphs<'_> {
    Paragraphs {
        text,
        offset: 0,
        line: 0,
    }
}

/// The paragraphs of a control file, in order (see [`paragraphs`]).
#[derive(Debug, Clone)]
pub struct Paragraphs<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
}

impl<'a> Paragraphs<'a> {
    /// Returns the next line (without its line end) and moves past it.
    fn next_line(&mut self) -> Option<(usize, &'a str)> {
        let rest = self.text.get(self.offset..).filter(|r| !r.is_empty())?;
        let len = rest.find('\n').map_or(rest.len(), |end| end + 1);
        let start = self.offset;
        self.offset += len;
        self.line += 1;
        let raw = self.text.get(start..start + len).unwrap_or_default();
        Some((start, raw.trim_end_matches(['\n', '\r'])))
    }

    /// Reads one paragraph whose first line (at `start`) is `first`.
    fn paragraph(&mut self, start: usize, first: &'a str) -> Result<Paragraph<'a>, Deb822Error> {
        let mut paragraph = Paragraph {
            line: self.line,
            fields: Vec::new(),
        };
        // (name, start of the value in `text`, end of the value so far)
        let mut open: Option<(&'a str, usize, usize)> = None;
        let mut line = Some((start, first));
        while let Some((at, text)) = line {
            if text.trim().is_empty() {
                break;
            }
            if text.starts_with([' ', '\t']) {
                let Some(field) = open.as_mut() else {
                    return Err(Deb822Error::OrphanContinuation { line: self.line });
                };
                field.2 = at + text.len();
            } else if let Some((name, _)) = text.split_once(':') {
                self.close(&mut paragraph, open.take());
                let value_start = at + name.len() + 1;
                open = Some((name.trim(), value_start, at + text.len()));
            } else if !text.starts_with('#') {
                return Err(Deb822Error::NotAField {
                    line: self.line,
                    text: text.to_owned(),
                });
            }
            line = self.next_line();
        }
        self.close(&mut paragraph, open);
        Ok(paragraph)
    }

    fn close(&self, paragraph: &mut Paragraph<'a>, field: Option<(&'a str, usize, usize)>) {
        if let Some((name, start, end)) = field {
            let value = self.text.get(start..end).unwrap_or_default().trim();
            paragraph.fields.push((name, value));
        }
    }
}

impl<'a> Iterator for Paragraphs<'a> {
    type Item = Result<Paragraph<'a>, Deb822Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (start, text) = self.next_line()?;
            if text.trim().is_empty() {
                continue;
            }
            let result = self.paragraph(start, text);
            if result.is_err() {
                // Stop after an error: the rest cannot be trusted.
                self.offset = self.text.len();
            }
            return Some(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_continuations_and_blank_lines() {
        let text =
            "\n\nPackage: a\nDescription: one\n two\n .\n three\nversion:  1.0  \n\n\nPackage: b\n";
        let all: Vec<_> = paragraphs(text).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].get("package"), Some("a"));
        assert_eq!(all[0].get("Version"), Some("1.0"));
        assert_eq!(all[0].get("Description"), Some("one\n two\n .\n three"));
        assert_eq!(all[0].line, 3);
        assert_eq!(all[1].get("Package"), Some("b"));
        assert_eq!(all[1].line, 11);
        assert_eq!(all[1].get("Version"), None);
    }

    #[test]
    fn multi_line_list() {
        let text = "SHA256:\n aa 1 main/x\n bb 2 main/y\nDate: d\n";
        let all: Vec<_> = paragraphs(text).collect::<Result<_, _>>().unwrap();
        let lines: Vec<_> = all[0].lines("SHA256").collect();
        assert_eq!(lines, ["aa 1 main/x", "bb 2 main/y"]);
        assert_eq!(all[0].get("Date"), Some("d"));
    }

    #[test]
    fn crlf_line_ends() {
        let text = "A: 1\r\nB: 2\r\n\r\nA: 3\r\n";
        let all: Vec<_> = paragraphs(text).collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].get("B"), Some("2"));
    }

    #[test]
    fn errors_name_the_line() {
        let err = paragraphs("A: 1\nnot a field\n")
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(
            err,
            Deb822Error::NotAField {
                line: 2,
                text: "not a field".into()
            }
        );
        let err = paragraphs(" orphan\n").next().unwrap().unwrap_err();
        assert_eq!(err, Deb822Error::OrphanContinuation { line: 1 });
    }
}
