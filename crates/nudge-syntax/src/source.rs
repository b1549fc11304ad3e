//! Source files and positions: byte offsets to lines and columns.

use std::sync::Arc;

/// One `.flow` file as read from disk (or an editor buffer).
#[derive(Clone, Debug)]
pub struct SourceFile {
    name: String,
    text: Arc<str>,
    /// Byte offset of the first byte of every line.
    line_starts: Vec<u32>,
}

/// A 1-based line and column, the column counted in Unicode scalar values
/// (what editors and CI annotations show as "column").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LineCol {
    /// 1-based line.
    pub line: u32,
    /// 1-based column in characters.
    pub column: u32,
}

impl SourceFile {
    /// A source with a display name (usually the path as the user gave it).
    pub fn new(name: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        let text: Arc<str> = text.into();
        let mut line_starts = vec![0u32];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(u32::try_from(i + 1).unwrap_or(u32::MAX));
            }
        }
        SourceFile {
            name: name.into(),
            text,
            line_starts,
        }
    }

    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The whole text, shared.
    pub fn text_arc(&self) -> Arc<str> {
        self.text.clone()
    }

    /// Number of lines (a trailing newline starts an empty last line).
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    fn clamp(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    /// 0-based line index containing `offset`.
    pub fn line_index(&self, offset: usize) -> usize {
        let offset = u32::try_from(self.clamp(offset)).unwrap_or(u32::MAX);
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }

    /// Byte offset where 0-based line `line` starts (clamped to the end).
    pub fn line_start(&self, line: usize) -> usize {
        self.line_starts
            .get(line)
            .map_or(self.text.len(), |&s| s as usize)
    }

    /// The text of 0-based line `line`, without its line break.
    pub fn line_text(&self, line: usize) -> &str {
        let start = self.line_start(line);
        let end = self.line_start(line + 1).min(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    /// 1-based line and character column of a byte offset.
    pub fn line_col(&self, offset: usize) -> LineCol {
        let offset = self.clamp(offset);
        let line = self.line_index(offset);
        let start = self.line_start(line);
        let column = self.text[start..offset].chars().count() + 1;
        LineCol {
            line: u32::try_from(line + 1).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }

    /// 0-based line and UTF-16 column of a byte offset (the Language Server
    /// Protocol's default position encoding).
    pub fn utf16_position(&self, offset: usize) -> (u32, u32) {
        let offset = self.clamp(offset);
        let line = self.line_index(offset);
        let start = self.line_start(line);
        let col: usize = self.text[start..offset].chars().map(char::len_utf16).sum();
        (
            u32::try_from(line).unwrap_or(u32::MAX),
            u32::try_from(col).unwrap_or(u32::MAX),
        )
    }

    /// Byte offset of a 0-based line and UTF-16 column; positions past the
    /// end of a line clamp to its end.
    pub fn offset_of_utf16(&self, line: u32, col: u32) -> usize {
        let line = line as usize;
        if line >= self.line_starts.len() {
            return self.text.len();
        }
        let start = self.line_start(line);
        let text = self.line_text(line);
        let mut units = 0usize;
        for (i, c) in text.char_indices() {
            if units >= col as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        start + text.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_not_bytes() {
        let src = SourceFile::new("a.flow", "é = 1\n  «x» y\n");
        // `y` is on line 2 after two spaces, «, x, », space.
        let y = src.text().find('y').unwrap();
        assert_eq!(src.line_col(y), LineCol { line: 2, column: 7 });
        assert_eq!(src.utf16_position(y), (1, 6));
        assert_eq!(src.offset_of_utf16(1, 6), y);
        assert_eq!(src.line_col(0), LineCol { line: 1, column: 1 });
        assert_eq!(src.line_col(src.text().len()).line, 3);
    }

    #[test]
    fn utf16_counts_astral_characters_twice() {
        let src = SourceFile::new("a.flow", "\"🎉\" x");
        let x = src.text().find('x').unwrap();
        assert_eq!(src.utf16_position(x), (0, 5));
        assert_eq!(src.line_col(x).column, 5);
    }
}
