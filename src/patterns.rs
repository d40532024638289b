//! Lua 5.4's pattern matching (the engine behind `string.find`, `match`, `gmatch` and `gsub`),
//! ported from `lstrlib.c` line for line, with one difference: it counts its work and asks,
//! every so often, whether the call it runs in is out of time.
//!
//! Lua's own matcher backtracks inside C, where the instruction-count hook never fires:
//! `("a"):rep(3000):find(".-.-.-.-b")` or a `gsub("%s+$", "")` over a long line of spaces runs
//! for minutes and nothing can stop it. This one stops within the call limit, with an error at
//! the script's line, and gives the same answers otherwise (the tests below compare it with
//! the C original on Lua's own pattern tests).

/// What the engine needs from outside: to be asked, every so often, whether to go on.
pub trait Budget {
    /// `Err` when the work must stop (the call is out of time).
    fn check(&mut self) -> Result<(), String>;
}

/// How many steps between two checks: a check reads the clock.
const CHECK_EVERY: u64 = 4096;

/// Lua's limit on pattern recursion ("pattern too complex").
const MAX_DEPTH: u32 = 200;

/// Lua's limit on captures.
pub const MAX_CAPTURES: usize = 32;

const L_ESC: u8 = b'%';
const SPECIALS: &[u8] = b"^$*+?.([%-";

/// A capture's length while it is open, and for a position capture.
const UNFINISHED: isize = -1;
const POSITION: isize = -2;

/// One capture of a match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// The bytes `start..end` of the subject.
    Span(usize, usize),
    /// A position capture `()`: the 1-based position.
    Position(usize),
}

/// A matcher for one subject and one pattern (its `^` already taken off, if any).
pub struct Matcher<'a, B: Budget> {
    src: &'a [u8],
    pat: &'a [u8],
    level: usize,
    capture: [(usize, isize); MAX_CAPTURES],
    depth: u32,
    steps: u64,
    next_check: u64,
    budget: &'a mut B,
}

/// A budget of steps, for matching outside a script's call (a player checking its moves).
#[derive(Debug, Clone, Copy)]
pub struct Steps(pub u64);

impl Budget for Steps {
    fn check(&mut self) -> Result<(), String> {
        self.0 = self.0.saturating_sub(CHECK_EVERY);
        if self.0 == 0 {
            return Err("the pattern takes too long to match".into());
        }
        Ok(())
    }
}

/// Whether `pattern`, anchored at the start of `subject` (a leading `^` is taken off), matches
/// it, within `budget`. An error is a malformed pattern or one over its budget.
pub fn matches_start(
    subject: &[u8],
    pattern: &[u8],
    budget: &mut impl Budget,
) -> Result<bool, String> {
    let pattern = pattern.strip_prefix(b"^").unwrap_or(pattern);
    Ok(Matcher::new(subject, pattern, budget).at(0)?.is_some())
}

/// Whether `pattern` has none of the characters that make a pattern (a plain `find`).
pub fn no_specials(pattern: &[u8]) -> bool {
    !pattern.iter().any(|c| SPECIALS.contains(c))
}

impl<'a, B: Budget> Matcher<'a, B> {
    /// A matcher of `pat` in `src`.
    pub fn new(src: &'a [u8], pat: &'a [u8], budget: &'a mut B) -> Matcher<'a, B> {
        Matcher {
            src,
            pat,
            level: 0,
            capture: [(0, 0); MAX_CAPTURES],
            depth: MAX_DEPTH,
            steps: 0,
            next_check: CHECK_EVERY,
            budget,
        }
    }

    /// Tries to match at `s`: where the match ends, if it does.
    pub fn at(&mut self, s: usize) -> Result<Option<usize>, String> {
        self.level = 0;
        self.depth = MAX_DEPTH;
        self.do_match(s, 0)
    }

    /// The captures of the last match, `s..e` (the whole match stands for them when the
    /// pattern has none and `whole` is asked for).
    pub fn captures(&self, s: usize, e: usize, whole: bool) -> Result<Vec<Capture>, String> {
        let levels = if self.level == 0 && whole {
            1
        } else {
            self.level
        };
        (0..levels).map(|i| self.capture(i, s, e)).collect()
    }

    /// Capture `i` of the last match `s..e` (capture 0 of a pattern without captures is the
    /// whole match).
    pub fn capture(&self, i: usize, s: usize, e: usize) -> Result<Capture, String> {
        if i >= self.level {
            if i != 0 {
                return Err(format!("invalid capture index %{}", i.saturating_add(1)));
            }
            return Ok(Capture::Span(s, e));
        }
        let (init, len) = self.capture[i];
        match len {
            UNFINISHED => Err("unfinished capture".into()),
            POSITION => Ok(Capture::Position(init.saturating_add(1))),
            len => Ok(Capture::Span(init, init.saturating_add(len.unsigned_abs()))),
        }
    }

    /// The pattern's byte at `i`, or 0 past its end (C reads the terminating NUL there).
    fn p(&self, i: usize) -> u8 {
        self.pat.get(i).copied().unwrap_or(0)
    }

    /// The subject's byte at `i`, or 0 past its end.
    fn s(&self, i: usize) -> u8 {
        self.src.get(i).copied().unwrap_or(0)
    }

    fn step(&mut self) -> Result<(), String> {
        self.step_by(1)
    }

    /// Counts `work` steps: a character class is as much work as it is long, comparing a
    /// back-reference as the capture is long. Checks the budget every [`CHECK_EVERY`] of them.
    fn step_by(&mut self, work: usize) -> Result<(), String> {
        self.steps = self
            .steps
            .saturating_add(u64::try_from(work).unwrap_or(u64::MAX));
        if self.steps >= self.next_check {
            self.next_check = self.steps.saturating_add(CHECK_EVERY);
            self.budget.check()?;
        }
        Ok(())
    }

    fn check_capture(&self, l: u8) -> Result<usize, String> {
        let l = usize::from(l).wrapping_sub(usize::from(b'1'));
        if l >= self.level || self.capture[l].1 == UNFINISHED {
            return Err(format!("invalid capture index %{}", l.wrapping_add(1)));
        }
        Ok(l)
    }

    fn capture_to_close(&self) -> Result<usize, String> {
        (0..self.level)
            .rev()
            .find(|&level| self.capture[level].1 == UNFINISHED)
            .ok_or_else(|| "invalid pattern capture".to_string())
    }

    fn class_end(&self, mut p: usize) -> Result<usize, String> {
        let c = self.p(p);
        p = p.saturating_add(1);
        match c {
            L_ESC => {
                if p >= self.pat.len() {
                    return Err("malformed pattern (ends with '%')".into());
                }
                Ok(p.saturating_add(1))
            }
            b'[' => {
                if self.p(p) == b'^' {
                    p = p.saturating_add(1);
                }
                loop {
                    if p >= self.pat.len() {
                        return Err("malformed pattern (missing ']')".into());
                    }
                    let c = self.p(p);
                    p = p.saturating_add(1);
                    if c == L_ESC && p < self.pat.len() {
                        p = p.saturating_add(1);
                    }
                    if self.p(p) == b']' {
                        break;
                    }
                }
                Ok(p.saturating_add(1))
            }
            _ => Ok(p),
        }
    }

    fn single_match(&self, s: usize, p: usize, ep: usize) -> bool {
        if s >= self.src.len() {
            return false;
        }
        let c = self.s(s);
        match self.p(p) {
            b'.' => true,
            L_ESC => match_class(c, self.p(p.saturating_add(1))),
            b'[' => self.match_bracket_class(c, p, ep.saturating_sub(1)),
            pc => pc == c,
        }
    }

    /// `p` is at the `[`, `ec` at the closing `]`.
    fn match_bracket_class(&self, c: u8, mut p: usize, ec: usize) -> bool {
        let mut sig = true;
        if self.p(p.saturating_add(1)) == b'^' {
            sig = false;
            p = p.saturating_add(1);
        }
        loop {
            p = p.saturating_add(1);
            if p >= ec {
                break;
            }
            if self.p(p) == L_ESC {
                p = p.saturating_add(1);
                if match_class(c, self.p(p)) {
                    return sig;
                }
            } else if self.p(p.saturating_add(1)) == b'-' && p.saturating_add(2) < ec {
                p = p.saturating_add(2);
                if self.p(p.saturating_sub(2)) <= c && c <= self.p(p) {
                    return sig;
                }
            } else if self.p(p) == c {
                return sig;
            }
        }
        !sig
    }

    fn match_balance(&mut self, mut s: usize, p: usize) -> Result<Option<usize>, String> {
        if p.saturating_add(1) >= self.pat.len() {
            return Err("malformed pattern (missing arguments to '%b')".into());
        }
        if s >= self.src.len() || self.s(s) != self.p(p) {
            return Ok(None);
        }
        let (b, e) = (self.p(p), self.p(p.saturating_add(1)));
        let mut count: usize = 1;
        loop {
            s = s.saturating_add(1);
            if s >= self.src.len() {
                return Ok(None);
            }
            self.step()?;
            let c = self.s(s);
            if c == e {
                count = count.saturating_sub(1);
                if count == 0 {
                    return Ok(Some(s.saturating_add(1)));
                }
            } else if c == b {
                count = count.saturating_add(1);
            }
        }
    }

    fn max_expand(&mut self, s: usize, p: usize, ep: usize) -> Result<Option<usize>, String> {
        let mut i: usize = 0;
        while self.single_match(s.saturating_add(i), p, ep) {
            self.step_by(ep.saturating_sub(p))?;
            i = i.saturating_add(1);
        }
        loop {
            self.step()?;
            if let Some(res) = self.do_match(s.saturating_add(i), ep.saturating_add(1))? {
                return Ok(Some(res));
            }
            if i == 0 {
                return Ok(None);
            }
            i = i.saturating_sub(1);
        }
    }

    fn min_expand(&mut self, mut s: usize, p: usize, ep: usize) -> Result<Option<usize>, String> {
        loop {
            self.step_by(ep.saturating_sub(p))?;
            if let Some(res) = self.do_match(s, ep.saturating_add(1))? {
                return Ok(Some(res));
            }
            if self.single_match(s, p, ep) {
                s = s.saturating_add(1);
            } else {
                return Ok(None);
            }
        }
    }

    fn start_capture(&mut self, s: usize, p: usize, what: isize) -> Result<Option<usize>, String> {
        let level = self.level;
        if level >= MAX_CAPTURES {
            return Err("too many captures".into());
        }
        self.capture[level] = (s, what);
        self.level = level.saturating_add(1);
        let res = self.do_match(s, p)?;
        if res.is_none() {
            self.level = self.level.saturating_sub(1);
        }
        Ok(res)
    }

    fn end_capture(&mut self, s: usize, p: usize) -> Result<Option<usize>, String> {
        let l = self.capture_to_close()?;
        let len = s.saturating_sub(self.capture[l].0);
        self.capture[l].1 = isize::try_from(len).unwrap_or(isize::MAX);
        let res = self.do_match(s, p)?;
        if res.is_none() {
            self.capture[l].1 = UNFINISHED;
        }
        Ok(res)
    }

    fn match_capture(&mut self, s: usize, l: u8) -> Result<Option<usize>, String> {
        let l = self.check_capture(l)?;
        let (init, len) = self.capture[l];
        // A position capture has no text: in C its length reads as 2^64 - 2, which nothing
        // matches.
        let Ok(len) = usize::try_from(len) else {
            return Ok(None);
        };
        self.step_by(len)?;
        let end = s.saturating_add(len);
        let found = self
            .src
            .get(init..init.saturating_add(len))
            .zip(self.src.get(s..end))
            .is_some_and(|(a, b)| a == b);
        Ok(found.then_some(end))
    }

    /// Lua's `match`: where a match of the pattern from `p` at subject position `s` ends.
    fn do_match(&mut self, mut s: usize, mut p: usize) -> Result<Option<usize>, String> {
        if self.depth == 0 {
            return Err("pattern too complex".into());
        }
        self.depth = self.depth.saturating_sub(1);
        let result = self.match_body(&mut s, &mut p);
        self.depth = self.depth.saturating_add(1);
        result
    }

    fn match_body(&mut self, s: &mut usize, p: &mut usize) -> Result<Option<usize>, String> {
        loop {
            self.step()?;
            if *p >= self.pat.len() {
                return Ok(Some(*s));
            }
            match self.p(*p) {
                b'(' => {
                    return if self.p(p.saturating_add(1)) == b')' {
                        self.start_capture(*s, p.saturating_add(2), POSITION)
                    } else {
                        self.start_capture(*s, p.saturating_add(1), UNFINISHED)
                    };
                }
                b')' => return self.end_capture(*s, p.saturating_add(1)),
                b'$' if p.saturating_add(1) == self.pat.len() => {
                    return Ok((*s == self.src.len()).then_some(*s));
                }
                L_ESC if self.p(p.saturating_add(1)) == b'b' => {
                    match self.match_balance(*s, p.saturating_add(2))? {
                        Some(next) => {
                            *s = next;
                            *p = p.saturating_add(4);
                            continue;
                        }
                        None => return Ok(None),
                    }
                }
                L_ESC if self.p(p.saturating_add(1)) == b'f' => {
                    *p = p.saturating_add(2);
                    if self.p(*p) != b'[' {
                        return Err("missing '[' after '%f' in pattern".into());
                    }
                    let ep = self.class_end(*p)?;
                    self.step_by(ep.saturating_sub(*p).saturating_mul(2))?;
                    let previous = if *s == 0 {
                        0
                    } else {
                        self.s(s.saturating_sub(1))
                    };
                    let current = self.s(*s);
                    if !self.match_bracket_class(previous, *p, ep.saturating_sub(1))
                        && self.match_bracket_class(current, *p, ep.saturating_sub(1))
                    {
                        *p = ep;
                        continue;
                    }
                    return Ok(None);
                }
                L_ESC if self.p(p.saturating_add(1)).is_ascii_digit() => {
                    match self.match_capture(*s, self.p(p.saturating_add(1)))? {
                        Some(next) => {
                            *s = next;
                            *p = p.saturating_add(2);
                            continue;
                        }
                        None => return Ok(None),
                    }
                }
                _ => {
                    let ep = self.class_end(*p)?;
                    self.step_by(ep.saturating_sub(*p))?;
                    let after = self.p(ep);
                    if !self.single_match(*s, *p, ep) {
                        if matches!(after, b'*' | b'?' | b'-') {
                            *p = ep.saturating_add(1);
                            continue;
                        }
                        return Ok(None);
                    }
                    match after {
                        b'?' => {
                            if let Some(res) =
                                self.do_match(s.saturating_add(1), ep.saturating_add(1))?
                            {
                                return Ok(Some(res));
                            }
                            *p = ep.saturating_add(1);
                            continue;
                        }
                        b'+' => return self.max_expand(s.saturating_add(1), *p, ep),
                        b'*' => return self.max_expand(*s, *p, ep),
                        b'-' => return self.min_expand(*s, *p, ep),
                        _ => {
                            *s = s.saturating_add(1);
                            *p = ep;
                            continue;
                        }
                    }
                }
            }
        }
    }
}

/// Lua's `match_class`, with the C locale's classes (ASCII).
fn match_class(c: u8, class: u8) -> bool {
    let res = match class.to_ascii_lowercase() {
        b'a' => c.is_ascii_alphabetic(),
        b'c' => c.is_ascii_control(),
        b'd' => c.is_ascii_digit(),
        b'g' => c.is_ascii_graphic(),
        b'l' => c.is_ascii_lowercase(),
        b'p' => c.is_ascii_punctuation(),
        b's' => matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c),
        b'u' => c.is_ascii_uppercase(),
        b'w' => c.is_ascii_alphanumeric(),
        b'x' => c.is_ascii_hexdigit(),
        _ => return class == c,
    };
    if class.is_ascii_uppercase() {
        !res
    } else {
        res
    }
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    struct Unlimited;
    impl Budget for Unlimited {
        fn check(&mut self) -> Result<(), String> {
            Ok(())
        }
    }

    /// Counts the checks and stops after `n`.
    struct Limited(u32);
    impl Budget for Limited {
        fn check(&mut self) -> Result<(), String> {
            if self.0 == 0 {
                return Err("out of time".into());
            }
            self.0 -= 1;
            Ok(())
        }
    }

    /// Lua's `string.find` without `init`, for the tests: the first match's span.
    fn find(s: &str, p: &str) -> Option<(usize, usize)> {
        let (p, anchor) = match p.strip_prefix('^') {
            Some(rest) => (rest, true),
            None => (p, false),
        };
        let mut budget = Unlimited;
        let mut m = Matcher::new(s.as_bytes(), p.as_bytes(), &mut budget);
        for start in 0..=s.len() {
            if let Some(end) = m.at(start).unwrap() {
                return Some((start + 1, end));
            }
            if anchor {
                break;
            }
        }
        None
    }

    #[test]
    fn lua_pattern_tests_give_luas_answers() {
        // From Lua 5.4's testes/pm.lua.
        assert_eq!(find("", ""), Some((1, 0)));
        assert_eq!(find("alo", ""), Some((1, 0)));
        assert_eq!(find("alo123alo", "12"), Some((4, 5)));
        assert_eq!(find("alo123alo", "^12"), None);
        assert_eq!(find("aaab", "a*"), Some((1, 3)));
        assert_eq!(find("aaa", "^.*$"), Some((1, 3)));
        assert_eq!(find("aaa", "b*"), Some((1, 0)));
        assert_eq!(find("aaa", "ab*a"), Some((1, 2)));
        assert_eq!(find("aba", "ab*a"), Some((1, 3)));
        assert_eq!(find("aaab", "a+"), Some((1, 3)));
        assert_eq!(find("aaa", "^.+$"), Some((1, 3)));
        assert_eq!(find("aaa", "b+"), None);
        assert_eq!(find("aaa", "ab+a"), None);
        assert_eq!(find("aba", "ab+a"), Some((1, 3)));
        assert_eq!(find("a$a", ".$"), Some((3, 3)));
        assert_eq!(find("a$a", ".%$"), Some((1, 2)));
        assert_eq!(find("a$a", ".$."), Some((1, 3)));
        assert_eq!(find("a$a", "$$"), None);
        assert_eq!(find("a$b", "a$"), None);
        assert_eq!(find("a$a", "$"), Some((4, 3)));
        assert_eq!(find("", "b*"), Some((1, 0)));
        assert_eq!(find("aaa", "bb*"), None);
        assert_eq!(find("aaab", "a-"), Some((1, 0)));
        assert_eq!(find("aaa", "^.-$"), Some((1, 3)));
        assert_eq!(find("aabaaabaaabaaaba", "b.*b"), Some((3, 15)));
        assert_eq!(find("aabaaabaaabaaaba", "b.-b"), Some((3, 7)));
        assert_eq!(find("alo xo", ".o$"), Some((5, 6)));
        assert_eq!(find(" \n isto é assim", "%S%S*"), Some((4, 7)));
        // pm.lua is Latin-1; here "é" is two bytes of UTF-8, so "assim" starts at 12.
        assert_eq!(find(" \n isto é assim", "%S*$"), Some((12, 16)));
        assert_eq!(find(" \n isto é assim", "[a-z]*$"), Some((12, 16)));
        assert_eq!(find("um caracter ? extra", "[^%sa-z]"), Some((13, 13)));
        assert_eq!(find("", "a?"), Some((1, 0)));
        assert_eq!(find("á", "á?"), Some((1, 2)));
        assert_eq!(find("ábl", "á?b?l?"), Some((1, 4)));
        // In UTF-8, "á?" is "\xC3" then an optional "\xA1": it needs the first byte.
        assert_eq!(find("  ábl", "á?b?l?"), Some((3, 6)));
        assert_eq!(find("aa", "^aa?a?a"), Some((1, 2)));
        assert_eq!(find("]]]áb", "[^]]"), Some((4, 4)));
        assert_eq!(find("0alo alo", "%x*"), Some((1, 2)));
        assert_eq!(find("alo alo", "%C+"), Some((1, 7)));
        assert_eq!(find("(álo)", "%(á"), Some((1, 3)));
        assert_eq!(find("THE (quick) fox", "%f[%a]%a+"), Some((1, 3)));
        assert_eq!(find("THE (quick) fox", "%f[%l]%a+"), Some((6, 10)));
        assert_eq!(find("a(b(c)d)e", "%b()"), Some((2, 8)));
        assert_eq!(find("[[]]", "%b[]"), Some((1, 4)));
        assert_eq!(find("alo 'oi' alo", "%b''"), Some((5, 8)));
        assert_eq!(find("xuxx", "(x)u%1"), Some((1, 3)));
    }

    #[test]
    fn captures_are_spans_and_positions() {
        let mut budget = Unlimited;
        let src = b"hello world";
        let mut m = Matcher::new(src, b"(h)(%a+)()", &mut budget);
        let end = m.at(0).unwrap().unwrap();
        assert_eq!(end, 5);
        assert_eq!(
            m.captures(0, end, true).unwrap(),
            vec![
                Capture::Span(0, 1),
                Capture::Span(1, 5),
                Capture::Position(6)
            ]
        );
    }

    #[test]
    fn malformed_patterns_are_errors_like_luas() {
        for (pattern, error) in [
            ("%", "malformed pattern (ends with '%')"),
            ("[a", "malformed pattern (missing ']')"),
            ("(a", "unfinished capture"),
            ("a)", "invalid pattern capture"),
            ("%1", "invalid capture index %1"),
            ("%f", "missing '[' after '%f' in pattern"),
            ("%b", "malformed pattern (missing arguments to '%b')"),
        ] {
            let mut budget = Unlimited;
            let mut m = Matcher::new(b"abc", pattern.as_bytes(), &mut budget);
            let got = (0..=3)
                .find_map(|s| match m.at(s) {
                    Err(e) => Some(e),
                    Ok(Some(end)) => m.captures(s, end, true).err(),
                    Ok(None) => None,
                })
                .unwrap_or_default();
            assert_eq!(got, error, "{pattern}");
        }
        let deep = "(".repeat(40) + &")".repeat(40);
        let mut budget = Unlimited;
        assert_eq!(
            Matcher::new(b"x", deep.as_bytes(), &mut budget).at(0),
            Err("too many captures".into())
        );
    }

    #[test]
    fn catastrophic_backtracking_is_stopped_by_the_budget() {
        // Rows 3 and 4: both take minutes in C.
        let subject = "a".repeat(3000);
        let mut budget = Limited(100);
        let mut m = Matcher::new(subject.as_bytes(), b".-.-.-.-b", &mut budget);
        let stopped = (0..=subject.len()).find_map(|s| m.at(s).err());
        assert_eq!(stopped, Some("out of time".into()));
        // A class as long as the subject: each step is as much work as the class is long.
        let class = format!("[{}]", "b".repeat(100_000));
        let subject = "a".repeat(100_000);
        let mut budget = Limited(100);
        let mut m = Matcher::new(subject.as_bytes(), class.as_bytes(), &mut budget);
        let stopped = (0..=subject.len()).find_map(|s| m.at(s).err());
        assert_eq!(stopped, Some("out of time".into()));
        let spaces = format!("a{}b", " ".repeat(60_000));
        let mut budget = Limited(100);
        let mut m = Matcher::new(spaces.as_bytes(), b"%s+$", &mut budget);
        let stopped = (0..=spaces.len()).find_map(|s| m.at(s).err());
        assert_eq!(stopped, Some("out of time".into()));
    }
}
