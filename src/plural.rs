//! Counts in words: `1 order`, `2 orders`, `once`, `3 times`.

use std::fmt;

/// `n` and a noun, plural unless `n` is 1: `Count(1, "order")` is `1 order`, `Count(2,
/// "order")` is `2 orders`. For nouns whose plural adds an `s`.
#[derive(Debug, Clone, Copy)]
pub struct Count<'a>(pub u64, pub &'a str);

impl fmt::Display for Count<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Count(n, noun) = *self;
        if n == 1 {
            write!(f, "1 {noun}")
        } else {
            write!(f, "{n} {noun}s")
        }
    }
}

/// `1 crash`, `2 crashes`.
pub fn crashes(n: u64) -> String {
    if n == 1 {
        "1 crash".to_owned()
    } else {
        format!("{n} crashes")
    }
}

/// How many times: `once`, `twice`, `3 times`.
#[derive(Debug, Clone, Copy)]
pub struct Times(pub u64);

impl fmt::Display for Times {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            1 => f.write_str("once"),
            2 => f.write_str("twice"),
            n => write!(f, "{n} times"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(Count(1, "order").to_string(), "1 order");
        assert_eq!(Count(0, "order").to_string(), "0 orders");
        assert_eq!(Times(1).to_string(), "once");
        assert_eq!(Times(3).to_string(), "3 times");
    }
}
