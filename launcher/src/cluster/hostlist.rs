//! Slurm's host-list syntax (`SLURM_JOB_NODELIST`): comma-separated hosts,
//! each with bracketed ranges and lists of numbers that keep their zero
//! padding: `gpu[01-04,07],login2` is gpu01, gpu02, gpu03, gpu04, gpu07 and
//! login2; `rack[1-2]-n[1-2]` is rack1-n1, rack1-n2, rack2-n1, rack2-n2.

/// The hosts of `list`, in order, or why it does not parse.
pub fn expand(list: &str) -> Result<Vec<String>, String> {
    let mut hosts = Vec::new();
    for item in top_level(list)? {
        hosts.extend(one(item, list)?);
    }
    if hosts.is_empty() {
        return Err(format!("host list {list:?} names no host"));
    }
    Ok(hosts)
}

/// The comma-separated items outside brackets.
fn top_level(list: &str) -> Result<Vec<&str>, String> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in list.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if !(0..=1).contains(&depth) {
            return Err(format!("host list {list:?}: unbalanced brackets"));
        }
    }
    if depth != 0 {
        return Err(format!("host list {list:?}: unbalanced brackets"));
    }
    items.push(&list[start..]);
    Ok(items
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect())
}

/// The hosts of one item: the cartesian product of its bracket groups.
fn one(item: &str, list: &str) -> Result<Vec<String>, String> {
    let Some(open) = item.find('[') else {
        return Ok(vec![item.to_string()]);
    };
    let close = item[open..]
        .find(']')
        .map(|c| open + c)
        .ok_or_else(|| format!("host list {list:?}: unbalanced brackets"))?;
    let (prefix, group, rest) = (&item[..open], &item[open + 1..close], &item[close + 1..]);
    let tails = one(rest, list)?;
    let mut out = Vec::new();
    for number in numbers(group, list)? {
        for tail in &tails {
            out.push(format!("{prefix}{number}{tail}"));
        }
    }
    Ok(out)
}

/// `01-04,07` as `01 02 03 04 07`, padded to the width of the range's start.
fn numbers(group: &str, list: &str) -> Result<Vec<String>, String> {
    let bad = |part: &str| format!("host list {list:?}: {part:?} is not a number or a range a-b");
    let mut out = Vec::new();
    for part in group.split(',').map(str::trim) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(lo) || !digits(hi) {
            return Err(bad(part));
        }
        let (a, b): (u64, u64) = (
            lo.parse().map_err(|_| bad(part))?,
            hi.parse().map_err(|_| bad(part))?,
        );
        if b < a || b - a > 100_000 {
            return Err(bad(part));
        }
        out.extend((a..=b).map(|n| format!("{n:0width$}", width = lo.len())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::expand;

    #[test]
    fn slurm_node_lists_expand_to_their_hosts() {
        for (list, hosts) in [
            ("gpu01", vec!["gpu01"]),
            (
                "gpu[01-04,07],login2",
                vec!["gpu01", "gpu02", "gpu03", "gpu04", "gpu07", "login2"],
            ),
            ("n[8-11]", vec!["n8", "n9", "n10", "n11"]),
            ("n[098-101]", vec!["n098", "n099", "n100", "n101"]),
            ("127.0.0.[1-2]", vec!["127.0.0.1", "127.0.0.2"]),
            ("a[1-2]-b[1-2]", vec!["a1-b1", "a1-b2", "a2-b1", "a2-b2"]),
            ("x[3],y[5-6],z", vec!["x3", "y5", "y6", "z"]),
        ] {
            assert_eq!(expand(list).unwrap(), hosts, "{list}");
        }
    }

    #[test]
    fn malformed_lists_say_what_is_wrong() {
        for (list, why) in [
            ("gpu[01-04", "unbalanced brackets"),
            ("gpu[04-01]", "\"04-01\" is not a number or a range"),
            ("gpu[a-b]", "is not a number"),
            ("", "names no host"),
        ] {
            let e = expand(list).unwrap_err();
            assert!(e.contains(why), "{list}: {e}");
        }
    }
}
