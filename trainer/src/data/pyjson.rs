//! JSON text exactly as Python's `json.dumps` writes it: the `tojson` filter
//! of chat templates in transformers calls `json.dumps(x, ensure_ascii=False,
//! indent=None, separators=None, sort_keys=False)`, whose spacing (`", "`,
//! `": "`) differs from serde_json's compact form.

use serde_json::Value;
use std::fmt::Write;

/// Options of `json.dumps`.
#[derive(Debug, Clone, Default)]
pub struct Dumps {
    /// Newlines and this many spaces per level; `None`: one line.
    pub indent: Option<usize>,
    /// (item separator, key separator); default `(", ", ": ")`, or
    /// `(",", ": ")` with an indent, as in Python.
    pub separators: Option<(String, String)>,
    pub sort_keys: bool,
    /// Escape every non-ASCII character as `\uXXXX`.
    pub ensure_ascii: bool,
}

impl Dumps {
    /// `value` as Python would write it.
    pub fn dumps(&self, value: &Value) -> String {
        let (item, key) = self.separators.clone().unwrap_or_else(|| {
            let item = if self.indent.is_some() { "," } else { ", " };
            (item.to_string(), ": ".to_string())
        });
        let mut out = String::new();
        self.write(&mut out, value, 0, &item, &key);
        out
    }

    fn newline(&self, out: &mut String, level: usize) {
        if let Some(n) = self.indent {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', n * level));
        }
    }

    fn write(&self, out: &mut String, v: &Value, level: usize, item: &str, key: &str) {
        match v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(&number(n)),
            Value::String(s) => self.string(out, s),
            Value::Array(a) if a.is_empty() => out.push_str("[]"),
            Value::Object(o) if o.is_empty() => out.push_str("{}"),
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(item);
                    }
                    self.newline(out, level + 1);
                    self.write(out, x, level + 1, item, key);
                }
                self.newline(out, level);
                out.push(']');
            }
            Value::Object(o) => {
                let mut entries: Vec<(&String, &Value)> = o.iter().collect();
                if self.sort_keys {
                    entries.sort_by(|a, b| a.0.cmp(b.0));
                }
                out.push('{');
                for (i, (k, x)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(item);
                    }
                    self.newline(out, level + 1);
                    self.string(out, k);
                    out.push_str(key);
                    self.write(out, x, level + 1, item, key);
                }
                self.newline(out, level);
                out.push('}');
            }
        }
    }

    fn string(&self, out: &mut String, s: &str) {
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 || (self.ensure_ascii && c as u32 > 0x7f) => {
                    let mut buf = [0u16; 2];
                    for unit in c.encode_utf16(&mut buf) {
                        let _ = write!(out, "\\u{unit:04x}");
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

/// A number as Python's `repr`: integers as they are, floats with a `.0`
/// when whole, exponents as `1e+20`.
fn number(n: &serde_json::Number) -> String {
    if n.is_f64() {
        let f = n.as_f64().unwrap_or(0.0);
        let s = format!("{f:?}");
        if f != 0.0 && (f.abs() >= 1e16 || f.abs() < 1e-4) {
            // Python: 1e+16, 1.5e-05.
            let e = format!("{f:e}");
            let (m, exp) = e.split_once('e').unwrap_or((&e, "0"));
            let exp: i32 = exp.parse().unwrap_or(0);
            let sign = if exp < 0 { '-' } else { '+' };
            return format!("{m}e{sign}{:02}", exp.abs());
        }
        s
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_spacing_and_escapes() {
        let v = json!({"b": [1, 2.5, "x\"é\n"], "a": {}, "c": null});
        let d = Dumps::default();
        assert_eq!(
            d.dumps(&v),
            r#"{"b": [1, 2.5, "x\"é\n"], "a": {}, "c": null}"#
        );
        let d = Dumps {
            indent: Some(2),
            sort_keys: true,
            ensure_ascii: true,
            ..Dumps::default()
        };
        assert_eq!(
            d.dumps(&v),
            "{\n  \"a\": {},\n  \"b\": [\n    1,\n    2.5,\n    \"x\\\"\\u00e9\\n\"\n  ],\n  \"c\": null\n}"
        );
        assert_eq!(
            number(&serde_json::Number::from_f64(1e20).unwrap()),
            "1e+20"
        );
        assert_eq!(number(&serde_json::Number::from_f64(3.0).unwrap()), "3.0");
    }
}
