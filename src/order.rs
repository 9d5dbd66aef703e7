//! Orders and order files.
//!
//! An order file is one JSON order object, a JSON array of them, or JSON Lines (one object per
//! line, for files ending in `.jsonl` or `.ndjson`). Every field is checked while it is parsed,
//! so a bad value is reported with the file, line and column where it stands, and the rest of
//! the program only ever sees valid [`Order`]s.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// One order, as read from an order file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    pub order_id: OrderId,
    pub product_id: ProductId,
    pub quantity: Quantity,
    /// Who pays; absent, the configured `payment.default_customer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
}

/// Largest id accepted: the largest integer a JSON reader that uses doubles (JavaScript, jq)
/// still reads exactly, so ids survive a round trip through other tools.
pub const MAX_ID: u64 = (1 << 53) - 1;

/// Largest quantity one order may ask for.
pub const MAX_QUANTITY: u64 = 1_000_000;

macro_rules! bounded_integer {
    ($(#[$doc:meta])* $name:ident($inner:ty), $what:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name($inner);

        impl $name {
            /// `None` unless `value` is within 1 ..= the documented maximum.
            pub fn new(value: u64) -> Option<Self> {
                (1..=$max).contains(&value).then(|| $name(value as $inner))
            }

            pub fn get(self) -> $inner {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        /// Parses the decimal text of an id, as in a TOML table key.
        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                text.parse().ok().and_then($name::new).ok_or_else(|| {
                    format!("`{text}` is not a {}: expected a whole number from 1 to {}", $what, $max)
                })
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = deserializer.deserialize_u64(WholeNumber { what: $what, max: $max })?;
                Ok($name(value as $inner))
            }
        }
    };
}

bounded_integer!(
    /// An order's id: unique within a run, 1 ..= [`MAX_ID`].
    OrderId(u64), "order_id", MAX_ID
);
bounded_integer!(
    /// A product's id, 1 ..= [`MAX_ID`].
    ProductId(u64), "product_id", MAX_ID
);
bounded_integer!(
    /// A customer's id, 1 ..= [`MAX_ID`].
    CustomerId(u64), "customer_id", MAX_ID
);
bounded_integer!(
    /// How many units an order asks for, 1 ..= [`MAX_QUANTITY`].
    Quantity(u32), "quantity", MAX_QUANTITY
);

/// Accepts a whole number in `1..=max` and says plainly what is wrong with anything else.
struct WholeNumber {
    what: &'static str,
    max: u64,
}

impl WholeNumber {
    fn out_of_range<E: de::Error>(&self, got: impl fmt::Display) -> E {
        E::custom(format_args!(
            "{} must be a whole number from 1 to {}, got {got}",
            self.what, self.max
        ))
    }
}

impl Visitor<'_> for WholeNumber {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} as a whole number from 1 to {}", self.what, self.max)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        if (1..=self.max).contains(&v) {
            Ok(v)
        } else {
            Err(self.out_of_range(v))
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(self.out_of_range(v)),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
        Err(self.out_of_range(v))
    }
}

/// Why an order file could not be read. Every message starts with the file's path and, where
/// there is one, the line and column, so editors and terminals can jump to it.
#[derive(Debug, thiserror::Error)]
pub enum OrderFileError {
    #[error("{path}: cannot read order file: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: is a directory, expected an order file")]
    Directory { path: PathBuf },
    #[error(
        "{path}: the file is empty, expected an order object, an array of orders, or JSON Lines"
    )]
    Empty { path: PathBuf },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl OrderFileError {
    fn invalid(path: &Path, line: usize, column: usize, message: impl Into<String>) -> Self {
        OrderFileError::Invalid {
            path: path.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Positions a `serde_json` error; `line_offset` is added for JSON Lines, where each line
    /// is parsed on its own.
    fn from_json(path: &Path, line_offset: usize, err: &serde_json::Error) -> Self {
        // serde_json appends " at line L column C" to its messages; we put the position first.
        let text = err.to_string();
        let suffix = format!(" at line {} column {}", err.line(), err.column());
        let message = text.strip_suffix(&suffix).unwrap_or(&text);
        Self::invalid(path, err.line() + line_offset, err.column(), message)
    }
}

/// Reads and checks a whole order file: every order valid, every `order_id` unique.
pub fn read_order_file(path: &Path) -> Result<Vec<Order>, OrderFileError> {
    let io_error = |source| OrderFileError::Io {
        path: path.to_owned(),
        source,
    };
    if path.is_dir() {
        return Err(OrderFileError::Directory {
            path: path.to_owned(),
        });
    }
    let is_json_lines = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl" | "ndjson")
    );
    if is_json_lines {
        let file = std::fs::File::open(path).map_err(io_error)?;
        return read_json_lines(path, BufReader::new(file));
    }
    let text = std::fs::read_to_string(path).map_err(io_error)?;
    parse_json_document(path, &text)
}

/// Parses a document holding one order object or an array of orders.
pub fn parse_json_document(path: &Path, text: &str) -> Result<Vec<Order>, OrderFileError> {
    let start = text.trim_start();
    let (line, column) = position_of(text, text.len() - start.len());
    match start.chars().next() {
        None => Err(OrderFileError::Empty {
            path: path.to_owned(),
        }),
        Some('{') => {
            let order: Order = serde_json::from_str(text).map_err(|err| {
                let mut err = OrderFileError::from_json(path, 0, &err);
                if let OrderFileError::Invalid { message, .. } = &mut err {
                    if message == "trailing characters" {
                        message.push_str(
                            " after the first order (for one order per line, name the file .jsonl)",
                        );
                    }
                }
                err
            })?;
            Ok(vec![order])
        }
        Some('[') => {
            let mut deserializer = serde_json::Deserializer::from_str(text);
            let orders = UniqueOrders
                .deserialize(&mut deserializer)
                .and_then(|orders| deserializer.end().map(|()| orders))
                .map_err(|err| OrderFileError::from_json(path, 0, &err))?;
            Ok(orders)
        }
        Some(_) => Err(OrderFileError::invalid(
            path,
            line,
            column,
            "expected an order object `{...}` or an array of orders `[...]`",
        )),
    }
}

/// Reads JSON Lines: one order object per line; blank lines are allowed and skipped.
pub fn read_json_lines(path: &Path, reader: impl BufRead) -> Result<Vec<Order>, OrderFileError> {
    let mut orders = Vec::new();
    let mut first_line_of: HashMap<OrderId, usize> = HashMap::new();
    for (index, line) in reader.lines().enumerate() {
        let line_no = index + 1;
        let line = line.map_err(|source| OrderFileError::Io {
            path: path.to_owned(),
            source,
        })?;
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            continue;
        }
        let column = line.len() - trimmed.len() + 1;
        let order: Order = serde_json::from_str(&line)
            .map_err(|err| OrderFileError::from_json(path, index, &err))?;
        if let Some(first) = first_line_of.insert(order.order_id, line_no) {
            return Err(OrderFileError::invalid(
                path,
                line_no,
                column,
                format!(
                    "duplicate order_id {} (first on line {first})",
                    order.order_id
                ),
            ));
        }
        orders.push(order);
    }
    if orders.is_empty() {
        return Err(OrderFileError::Empty {
            path: path.to_owned(),
        });
    }
    Ok(orders)
}

/// 1-based line and column of a byte offset.
fn position_of(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Deserializes an array of orders, refusing a repeated `order_id` as soon as it is read, so
/// the error carries the position of the duplicate.
struct UniqueOrders;

impl<'de> DeserializeSeed<'de> for UniqueOrders {
    type Value = Vec<Order>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for UniqueOrders {
    type Value = Vec<Order>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of order objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut orders = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        let mut first_index_of: HashMap<OrderId, usize> = HashMap::new();
        while let Some(order) = seq.next_element::<Order>()? {
            let index = orders.len();
            if let Some(first) = first_index_of.insert(order.order_id, index) {
                return Err(de::Error::custom(format_args!(
                    "duplicate order_id {} (element {} repeats element {})",
                    order.order_id,
                    index + 1,
                    first + 1
                )));
            }
            orders.push(order);
        }
        Ok(orders)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Order>, String> {
        parse_json_document(Path::new("o.json"), text).map_err(|e| e.to_string())
    }

    fn lines(text: &str) -> Result<Vec<Order>, String> {
        read_json_lines(Path::new("o.jsonl"), text.as_bytes()).map_err(|e| e.to_string())
    }

    fn order(order_id: u64, product_id: u64, quantity: u64) -> Order {
        Order {
            order_id: OrderId::new(order_id).expect("valid id"),
            product_id: ProductId::new(product_id).expect("valid id"),
            quantity: Quantity::new(quantity).expect("valid quantity"),
            customer_id: None,
        }
    }

    #[test]
    fn reads_the_reference_order_object() {
        let orders = parse(r#"{"order_id": 1, "product_id": 101, "quantity": 2}"#);
        assert_eq!(orders, Ok(vec![order(1, 101, 2)]));
    }

    #[test]
    fn reads_an_array_in_file_order() {
        let orders = parse(
            r#"[{"order_id": 2, "product_id": 7, "quantity": 1},
                {"order_id": 1, "product_id": 8, "quantity": 3}]"#,
        );
        assert_eq!(orders, Ok(vec![order(2, 7, 1), order(1, 8, 3)]));
    }

    #[test]
    fn a_customer_id_is_optional() {
        let orders =
            parse(r#"{"order_id": 1, "product_id": 101, "quantity": 2, "customer_id": 7}"#)
                .expect("valid");
        assert_eq!(orders[0].customer_id, CustomerId::new(7));
        let err = parse(r#"{"order_id": 1, "product_id": 101, "quantity": 2, "customer_id": 0}"#);
        assert!(err
            .unwrap_err()
            .contains("customer_id must be a whole number"));
    }

    #[test]
    fn an_empty_array_is_zero_orders() {
        assert_eq!(parse(" [ ] "), Ok(vec![]));
    }

    #[test]
    fn reads_json_lines_skipping_blank_lines() {
        let orders = lines(
            "{\"order_id\": 1, \"product_id\": 101, \"quantity\": 2}\n\n  \
             {\"order_id\": 3, \"product_id\": 5, \"quantity\": 9}\n",
        );
        assert_eq!(orders, Ok(vec![order(1, 101, 2), order(3, 5, 9)]));
    }

    #[test]
    fn whitespace_only_is_empty() {
        assert!(parse(" \n\t").unwrap_err().contains("the file is empty"));
        assert!(lines("\n\n").unwrap_err().contains("the file is empty"));
    }

    #[test]
    fn zero_quantity_is_positioned() {
        let err = parse("{\"order_id\": 1,\n \"product_id\": 101, \"quantity\": 0}").unwrap_err();
        assert_eq!(
            err,
            "o.json:2:33: quantity must be a whole number from 1 to 1000000, got 0"
        );
    }

    #[test]
    fn negative_fractional_and_huge_numbers_are_refused() {
        let negative = parse(r#"{"order_id": -4, "product_id": 1, "quantity": 1}"#).unwrap_err();
        assert!(
            negative.contains("order_id must be a whole number from 1 to 9007199254740991, got -4")
        );
        let fraction = parse(r#"{"order_id": 4, "product_id": 1, "quantity": 1.5}"#).unwrap_err();
        assert!(fraction.contains("quantity must be a whole number from 1 to 1000000, got 1.5"));
        let huge = parse(r#"{"order_id": 9007199254740992, "product_id": 1, "quantity": 1}"#);
        assert!(huge.unwrap_err().contains("got 9007199254740992"));
        let too_many = parse(r#"{"order_id": 4, "product_id": 1, "quantity": 1000001}"#);
        assert!(too_many.unwrap_err().contains("got 1000001"));
    }

    #[test]
    fn wrong_type_missing_and_unknown_fields_are_named() {
        let wrong = parse(r#"{"order_id": "1", "product_id": 1, "quantity": 1}"#).unwrap_err();
        assert!(
            wrong.starts_with("o.json:1:16: invalid type: string \"1\""),
            "{wrong}"
        );
        let missing = parse(r#"{"order_id": 1, "product_id": 1}"#).unwrap_err();
        assert!(missing.contains("missing field `quantity`"), "{missing}");
        let unknown = parse(r#"{"order_id": 1, "product_id": 1, "quantity": 1, "qty": 2}"#);
        assert!(unknown.unwrap_err().contains("unknown field `qty`"));
    }

    #[test]
    fn invalid_json_is_positioned() {
        let err = parse("[\n  {\"order_id\": 1,, }\n]").unwrap_err();
        assert!(err.starts_with("o.json:2:18: "), "{err}");
    }

    #[test]
    fn a_scalar_document_is_refused_where_it_starts() {
        assert_eq!(
            parse("\n  42").unwrap_err(),
            "o.json:2:3: expected an order object `{...}` or an array of orders `[...]`"
        );
    }

    #[test]
    fn several_objects_in_a_json_file_hint_at_jsonl() {
        let err = parse("{\"order_id\": 1, \"product_id\": 1, \"quantity\": 1}\n{}").unwrap_err();
        assert!(err.contains("name the file .jsonl"), "{err}");
    }

    #[test]
    fn duplicate_ids_are_refused_with_their_position() {
        let err = parse(
            "[{\"order_id\": 1, \"product_id\": 1, \"quantity\": 1},\n \
             {\"order_id\": 1, \"product_id\": 2, \"quantity\": 1}]",
        )
        .unwrap_err();
        assert!(err.starts_with("o.json:2:"), "{err}");
        assert!(
            err.contains("duplicate order_id 1 (element 2 repeats element 1)"),
            "{err}"
        );

        let err = lines(
            "{\"order_id\": 1, \"product_id\": 1, \"quantity\": 1}\n\
             {\"order_id\": 1, \"product_id\": 1, \"quantity\": 1}",
        )
        .unwrap_err();
        assert_eq!(err, "o.jsonl:2:1: duplicate order_id 1 (first on line 1)");
    }

    #[test]
    fn json_lines_errors_carry_the_file_line() {
        let err = lines(
            "{\"order_id\": 1, \"product_id\": 1, \"quantity\": 1}\n\
             {\"order_id\": 2, \"product_id\": 1, \"quantity\": 0}",
        )
        .unwrap_err();
        assert!(err.starts_with("o.jsonl:2:"), "{err}");
        assert!(err.contains("quantity must be"), "{err}");
    }
}
