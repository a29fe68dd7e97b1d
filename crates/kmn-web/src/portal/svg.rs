//! Bar charts as server-rendered SVG (the dashboard): the geometry is computed here and
//! the template draws it (text escaped like any other), no script, no external image.

/// One bar.
#[derive(Clone, Debug)]
pub struct Bar {
    pub label: String,
    pub value: i64,
    pub x: i64,
    pub y: i64,
    pub w: i64,
    pub h: i64,
    /// Where the value's text goes.
    pub tx: i64,
    pub ty: i64,
    /// Where the label's text goes.
    pub lx: i64,
    pub ly: i64,
}

/// A bar chart with its title and a text alternative (the same figures as a table).
#[derive(Clone, Debug)]
pub struct BarChart {
    pub title: String,
    pub unit: String,
    pub width: i64,
    pub height: i64,
    pub bars: Vec<Bar>,
    /// The baseline: x1, y1, x2, y2.
    pub axis: (i64, i64, i64, i64),
    /// No data at all.
    pub empty: bool,
}

impl BarChart {
    /// Horizontal bars: labels on the left (states, reasons).
    pub fn horizontal(title: &str, unit: &str, data: &[(String, i64)]) -> BarChart {
        let (label_w, bar_max, row_h, top) = (190, 330, 26, 8);
        let max = data.iter().map(|d| d.1).max().unwrap_or(0).max(1);
        let bars = data
            .iter()
            .enumerate()
            .map(|(i, (label, v))| {
                let y = top + i as i64 * row_h;
                let w = (v * bar_max) / max;
                Bar {
                    label: label.clone(),
                    value: *v,
                    x: label_w,
                    y,
                    w: w.max(if *v > 0 { 2 } else { 0 }),
                    h: row_h - 8,
                    tx: label_w + w + 6,
                    ty: y + row_h - 12,
                    lx: label_w - 6,
                    ly: y + row_h - 12,
                }
            })
            .collect();
        let height = top + data.len().max(1) as i64 * row_h + 8;
        BarChart {
            title: title.into(),
            unit: unit.into(),
            width: label_w + bar_max + 60,
            height,
            bars,
            axis: (label_w, top - 4, label_w, height - 8),
            empty: data.is_empty(),
        }
    }

    /// Vertical bars: labels below (weeks, months).
    pub fn vertical(title: &str, unit: &str, data: &[(String, i64)]) -> BarChart {
        let (left, col_w, bar_max, top) = (10, 56, 160, 20);
        let max = data.iter().map(|d| d.1).max().unwrap_or(0).max(1);
        let base = top + bar_max;
        let bars = data
            .iter()
            .enumerate()
            .map(|(i, (label, v))| {
                let x = left + i as i64 * col_w;
                let h = (v * bar_max) / max;
                let h = h.max(if *v > 0 { 2 } else { 0 });
                Bar {
                    label: label.clone(),
                    value: *v,
                    x: x + 8,
                    y: base - h,
                    w: col_w - 16,
                    h,
                    tx: x + col_w / 2,
                    ty: base - h - 4,
                    lx: x + col_w / 2,
                    ly: base + 16,
                }
            })
            .collect();
        BarChart {
            title: title.into(),
            unit: unit.into(),
            width: left * 2 + data.len().max(1) as i64 * col_w,
            height: base + 26,
            bars,
            axis: (left, base, left + data.len().max(1) as i64 * col_w, base),
            empty: data.iter().all(|d| d.1 == 0),
        }
    }
}
