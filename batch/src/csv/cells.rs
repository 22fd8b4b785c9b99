//! [`Cells`]: one row's cells in one buffer.

use std::fmt;
use std::ops::{Deref, Index};
use std::sync::OnceLock;

use arrayvec::ArrayVec;
use serde::ser::{Serialize, SerializeSeq, Serializer};

/// Most cells whose ends a [`Cells`] keeps inline (see [`Ends`]).
const INLINE_CELLS: usize = 32;

/// A row's cells as read (unquoted, not trimmed), in order.
///
/// The cells' text is one `String` and where each cell ends is kept next to
/// it, inline for rows of up to 32 cells and 64 KiB (almost every row), so
/// a row costs one allocation where a `Vec<String>` costs one per cell plus
/// one: rows are built on the pipeline's threads and freed on the caller's,
/// and allocating and (cross-thread) freeing the cells of a 10-column row
/// one by one took about a sixth of the import pipeline's instructions.
///
/// Read it like a slice of strings: [`Cells::get`], [`Cells::iter`],
/// indexing (`cells[0]`, which panics out of range, as a slice does);
/// [`Cells::to_vec`] copies the cells out. It serialises as a sequence of
/// strings, exactly as a `Vec<String>` of the same cells does.
#[derive(Clone, Default)]
pub struct Cells {
    /// Every cell's text, one after another.
    text: String,
    /// Where each cell ends in `text` (a cell starts where the one before
    /// it ends).
    ends: Ends,
}

/// The end offsets of a [`Cells`]; always `Inline` when they fit, so a
/// row's representation depends only on its cells.
#[derive(Clone)]
enum Ends {
    /// Up to [`INLINE_CELLS`] cells of a text under 64 KiB, in the row itself.
    Inline(ArrayVec<u16, INLINE_CELLS>),
    /// Any other row.
    Heap(Box<[usize]>),
}

impl Default for Ends {
    fn default() -> Self {
        Ends::Inline(ArrayVec::new())
    }
}

impl Cells {
    /// Cells from their concatenated `text` and the end of each cell in it
    /// (ascending, each on a character boundary, the last at most
    /// `text.len()`): the caller's guarantee, which [`Cells::get`] relies on
    /// only to return `Some` (a bad bound reads as a missing cell).
    pub(crate) fn from_parts(text: String, ends: &[usize]) -> Self {
        let ends = match Self::inline_ends(&text, ends) {
            Some(inline) => Ends::Inline(inline),
            None => Ends::Heap(ends.into()),
        };
        Self { text, ends }
    }

    /// `ends` as [`Ends::Inline`] offsets, when they fit.
    fn inline_ends(text: &str, ends: &[usize]) -> Option<ArrayVec<u16, INLINE_CELLS>> {
        if ends.len() > INLINE_CELLS || text.len() > usize::from(u16::MAX) {
            return None;
        }
        // Filled as a whole array then cut, which compiles to less than a
        // push per cell.
        let mut inline = [0; INLINE_CELLS];
        for (slot, &end) in inline.iter_mut().zip(ends) {
            *slot = u16::try_from(end).ok()?;
        }
        let mut inline = ArrayVec::from(inline);
        inline.truncate(ends.len());
        Some(inline)
    }

    /// The number of cells.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.ends {
            Ends::Inline(ends) => ends.len(),
            Ends::Heap(ends) => ends.len(),
        }
    }

    /// True when there are no cells (a row that could not be read).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The byte range of cell `i` in `text`.
    #[inline]
    fn bounds(&self, i: usize) -> Option<(usize, usize)> {
        match &self.ends {
            Ends::Inline(ends) => {
                let end = usize::from(*ends.get(i)?);
                let start = i.checked_sub(1).map_or(0, |j| usize::from(ends[j]));
                Some((start, end))
            }
            Ends::Heap(ends) => {
                let end = *ends.get(i)?;
                let start = i.checked_sub(1).map_or(0, |j| ends[j]);
                Some((start, end))
            }
        }
    }

    /// Cell `i`, or `None` past the last cell.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&str> {
        let (start, end) = self.bounds(i)?;
        self.text.get(start..end)
    }

    /// The cells, in order.
    pub fn iter(&self) -> CellsIter<'_> {
        CellsIter {
            cells: self,
            next: 0,
            len: self.len(),
        }
    }

    /// The cells as owned strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }

    /// The cells seen as `&[String]`, for code written for a `Vec<String>`
    /// of cells; the strings are copied out only when first used.
    pub fn as_strings(&self) -> StringCells<'_> {
        StringCells {
            cells: self,
            strings: OnceLock::new(),
        }
    }
}

impl<S: AsRef<str>> FromIterator<S> for Cells {
    fn from_iter<I: IntoIterator<Item = S>>(cells: I) -> Self {
        let mut text = String::new();
        let mut ends = Vec::new();
        for cell in cells {
            text.push_str(cell.as_ref());
            ends.push(text.len());
        }
        Self::from_parts(text, &ends)
    }
}

impl PartialEq for Cells {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Cells {}

impl Index<usize> for Cells {
    type Output = str;

    fn index(&self, i: usize) -> &str {
        match self.get(i) {
            Some(cell) => cell,
            None => panic!(
                "cell index {i} out of range for a row of {} cells",
                self.len()
            ),
        }
    }
}

impl fmt::Debug for Cells {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Cells {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for cell in self {
            seq.serialize_element(cell)?;
        }
        seq.end()
    }
}

impl<'a> IntoIterator for &'a Cells {
    type Item = &'a str;
    type IntoIter = CellsIter<'a>;

    fn into_iter(self) -> CellsIter<'a> {
        self.iter()
    }
}

/// The cells of a [`Cells`], in order (see [`Cells::iter`]).
#[derive(Debug, Clone)]
pub struct CellsIter<'a> {
    cells: &'a Cells,
    next: usize,
    len: usize,
}

impl<'a> Iterator for CellsIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.next >= self.len {
            return None;
        }
        let cell = self.cells.get(self.next).unwrap_or_default();
        self.next += 1;
        Some(cell)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.len - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for CellsIter<'_> {}

/// A [`Cells`] seen as `&[String]` (through `Deref`), from
/// [`Cells::as_strings`]: the strings are built on the first dereference
/// and kept, so handing one on costs nothing until a cell is read.
#[derive(Debug)]
pub struct StringCells<'a> {
    cells: &'a Cells,
    /// `OnceLock` rather than `OnceCell`: the server's import job holds
    /// these across `await`s, so they must be `Sync`.
    strings: OnceLock<Vec<String>>,
}

impl Deref for StringCells<'_> {
    type Target = [String];

    fn deref(&self) -> &[String] {
        self.strings.get_or_init(|| self.cells.to_vec())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn check(cells: &[String]) {
        let packed: Cells = cells.iter().collect();
        assert_eq!(packed.len(), cells.len());
        assert_eq!(packed.is_empty(), cells.is_empty());
        assert_eq!(packed.to_vec(), cells);
        assert_eq!(packed.iter().len(), cells.len());
        for (i, cell) in cells.iter().enumerate() {
            assert_eq!(packed.get(i), Some(cell.as_str()));
            assert_eq!(&packed[i], cell.as_str());
        }
        assert_eq!(packed.get(cells.len()), None);
        assert_eq!(&*packed.as_strings(), cells);
        assert_eq!(
            serde_json::to_string(&packed).unwrap(),
            serde_json::to_string(cells).unwrap()
        );
        assert_eq!(format!("{packed:?}"), format!("{cells:?}"));
        assert_eq!(packed, packed.clone());
    }

    #[test]
    fn cells_read_back_as_a_vec_of_strings_would() {
        let cases: Vec<Vec<String>> = vec![
            vec![],
            vec![String::new()],
            vec![String::new(), String::new(), "x".to_owned()],
            vec![" a ".to_owned(), "Zoë".to_owned(), "\"q\"\r\nz".to_owned()],
            // Inline up to 32 cells, then on the heap.
            (0..32).map(|i| format!("c{i}")).collect(),
            (0..33).map(|i| format!("c{i}")).collect(),
            // Inline up to 64 KiB of text, then on the heap.
            vec!["a".repeat(65_535)],
            vec!["a".repeat(65_535), String::new()],
            vec!["a".repeat(65_535), "b".to_owned()],
            vec!["é".repeat(40_000), "b".to_owned()],
        ];
        for cells in &cases {
            check(cells);
        }
    }

    #[test]
    fn equal_cells_are_equal_whatever_their_bounds() {
        let a: Cells = ["ab", "c"].into_iter().collect();
        let b: Cells = ["a", "bc"].into_iter().collect();
        assert_ne!(a, b);
        assert_eq!(a, ["ab", "c"].into_iter().collect::<Cells>());
        assert_ne!(a, ["ab", "c", ""].into_iter().collect::<Cells>());
        let heap = Cells::from_parts("abc".to_owned(), &[2, 3]);
        assert_eq!(a, heap);
        assert_eq!(Cells::default(), Cells::from_parts(String::new(), &[]));
    }

    #[test]
    #[should_panic(expected = "cell index 2 out of range")]
    fn indexing_past_the_end_panics() {
        let cells: Cells = ["a", "b"].into_iter().collect();
        let _ = &cells[2];
    }
}
