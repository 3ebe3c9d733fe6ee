//! Just enough Markdown: pipe tables with their line numbers, and generated blocks between
//! `<!-- audit:NAME:begin -->` and `<!-- audit:NAME:end -->` markers.

/// One table row: its 1-based line and its cells, trimmed, with one pair of backticks removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line in the file.
    pub line: usize,
    /// The cells.
    pub cells: Vec<String>,
}

/// Every data row of every pipe table in `text` (header and separator rows skipped).
#[must_use]
pub fn table_rows(text: &str) -> Vec<Row> {
    table_rows_in(text, 0)
}

fn table_rows_in(text: &str, first_line: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut in_table = false;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect();
        if !in_table {
            in_table = true; // header row
            continue;
        }
        if cells
            .iter()
            .all(|c| c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')))
        {
            continue;
        }
        rows.push(Row {
            line: first_line + index + 1,
            cells,
        });
    }
    rows
}

/// Removes one pair of surrounding backticks.
#[must_use]
pub fn unquote(cell: &str) -> &str {
    cell.strip_prefix('`')
        .and_then(|c| c.strip_suffix('`'))
        .unwrap_or(cell)
}

/// Splits a cell listing backticked names (`` `a`, `b` ``) into the names.
#[must_use]
pub fn name_list(cell: &str) -> Vec<String> {
    cell.split(',')
        .map(|n| unquote(n.trim()).to_owned())
        .filter(|n| !n.is_empty() && n != "–" && n != "-")
        .collect()
}

/// The begin and end markers of block `name`.
#[must_use]
pub fn markers(name: &str) -> (String, String) {
    (
        format!("<!-- audit:{name}:begin -->"),
        format!("<!-- audit:{name}:end -->"),
    )
}

/// The rows of the tables inside block `name`, or `None` when the block is missing.
#[must_use]
pub fn block_rows(text: &str, name: &str) -> Option<(usize, Vec<Row>)> {
    let (begin, end) = markers(name);
    let start = text.find(&begin)?;
    let body_start = start + begin.len();
    let stop = body_start + text[body_start..].find(&end)?;
    let first_line = text[..body_start].lines().count();
    Some((
        first_line,
        table_rows_in(&text[body_start..stop], first_line.saturating_sub(1)),
    ))
}

/// `text` with the inside of block `name` replaced by `content` (`None` if the block is missing).
#[must_use]
pub fn replace_block(text: &str, name: &str, content: &str) -> Option<String> {
    let (begin, end) = markers(name);
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    Some(format!("{}\n{}{}", &text[..start], content, &text[stop..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_carry_their_line_numbers() {
        let text = "intro\n\n| a | b |\n|---|---|\n| `x` | 1 |\n| y | 2 |\n\ntext\n";
        let rows = table_rows(text);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line, 5);
        assert_eq!(unquote(&rows[0].cells[0]), "x");
    }

    #[test]
    fn blocks_are_found_and_replaced() {
        let text = "a\n<!-- audit:t:begin -->\n| h |\n|---|\n| `v` |\n<!-- audit:t:end -->\nz\n";
        let (_, rows) = block_rows(text, "t").unwrap();
        assert_eq!(rows[0].line, 5);
        let replaced = replace_block(text, "t", "new\n").unwrap();
        assert_eq!(
            replaced,
            "a\n<!-- audit:t:begin -->\nnew\n<!-- audit:t:end -->\nz\n"
        );
    }
}
