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

/// `noun` after its indefinite article: `an order`, `a transfer`.
pub fn a(noun: &str) -> String {
    let vowel = noun.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

/// `text` in the words of a choreography whose instances are `noun`s: each whole word
/// `order`, `orders`, `Order` or `Orders` (the shop's, in texts shared by every
/// choreography) made `noun`, its article following (`an order`: `a transfer`). The text
/// itself for the shop.
pub fn reworded(text: &str, noun: &str) -> String {
    if noun == "order" {
        return text.to_owned();
    }
    let capital = |noun: &str| noun[..1].to_uppercase() + &noun[1..];
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphabetic()) {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        rest = after;
        let with = match word {
            "order" => noun.to_owned(),
            "orders" => format!("{noun}s"),
            "Order" => capital(noun),
            "Orders" => capital(noun) + "s",
            other => {
                out.push_str(other);
                continue;
            }
        };
        for article in ["an ", "An "] {
            if out.ends_with(article) && !a(noun).starts_with("an") {
                out.truncate(out.len() - 2);
                out.push(' ');
            }
        }
        out.push_str(&with);
    }
    out.push_str(rest);
    out
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

    /// The shop's word for an instance becomes the choreography's, as whole words only, with
    /// its article; other words that hold it stay.
    #[test]
    fn order_is_reworded_as_a_whole_word_with_its_article() {
        assert_eq!(
            reworded("An order's end, 3 orders. Orders finished", "transfer"),
            "A transfer's end, 3 transfers. Transfers finished"
        );
        assert_eq!(
            reworded("border, reorderings, OrderCreated, order_id", "transfer"),
            "border, reorderings, OrderCreated, order_id"
        );
        assert_eq!(reworded("an order", "item"), "an item");
        assert_eq!(reworded("an order", "order"), "an order");
        assert_eq!(a("order"), "an order");
        assert_eq!(a("trip"), "a trip");
    }
}
