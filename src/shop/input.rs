//! The shop's input record: one order.

use serde::{Deserialize, Deserializer, Serialize};

use crate::input::{at_ms, object_only, InstanceId, Record, MAX_ID};

/// An order's id: an instance id, unique within a run.
pub type OrderId = InstanceId;

/// Largest quantity one order may ask for.
pub const MAX_QUANTITY: u64 = 1_000_000;

crate::bounded_integer!(
    /// A product's id, 1 ..= [`MAX_ID`].
    ProductId(u64), "product_id", MAX_ID
);
crate::bounded_integer!(
    /// A customer's id, 1 ..= [`MAX_ID`].
    CustomerId(u64), "customer_id", MAX_ID
);
crate::bounded_integer!(
    /// How many units an order asks for, 1 ..= [`MAX_QUANTITY`].
    Quantity(u32), "quantity", MAX_QUANTITY
);

/// One order, as read from an order file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Order {
    pub order_id: OrderId,
    pub product_id: ProductId,
    pub quantity: Quantity,
    /// Who pays; absent, the configured `payment.default_customer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    /// When the order arrives, in milliseconds since the run started; absent, the configured
    /// arrival process decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
}

/// The fields of an order object, as written in a file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderObject {
    order_id: OrderId,
    product_id: ProductId,
    quantity: Quantity,
    #[serde(default)]
    customer_id: Option<CustomerId>,
    #[serde(default, deserialize_with = "at_ms")]
    at_ms: Option<u64>,
}

/// Only an object is an order: the positional form serde derives for structs
/// (`[1, 101, 2]`) is refused.
impl<'de> Deserialize<'de> for Order {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let o: OrderObject = object_only(deserializer, "an order object")?;
        Ok(Order {
            order_id: o.order_id,
            product_id: o.product_id,
            quantity: o.quantity,
            customer_id: o.customer_id,
            at_ms: o.at_ms,
        })
    }
}

impl Record for Order {
    fn id(&self) -> InstanceId {
        self.order_id
    }

    fn at_ms(&self) -> Option<u64> {
        self.at_ms
    }

    const EXAMPLE: Option<&'static str> =
        Some(r#"{"order_id": 1, "product_id": 101, "quantity": 2}"#);
}

#[cfg(test)]
mod tests {
    //! The shop's order files, read by the generic input reader.

    use std::path::Path;

    use super::*;
    use crate::input::{parse_json_document, JsonLines, MAX_LINE};

    fn parse(text: &str) -> Result<Vec<Order>, String> {
        parse_json_document(Path::new("o.json"), text).map_err(|e| e.to_string())
    }

    fn lines(text: &str) -> Result<Vec<Order>, String> {
        JsonLines::new(Path::new("o.jsonl"), text.as_bytes(), usize::MAX)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())
    }

    fn order(order_id: u64, product_id: u64, quantity: u64) -> Order {
        Order {
            order_id: OrderId::new(order_id).expect("valid id"),
            product_id: ProductId::new(product_id).expect("valid id"),
            quantity: Quantity::new(quantity).expect("valid quantity"),
            customer_id: None,
            at_ms: None,
        }
    }

    /// Numbers in errors are shown as written (`1e2`, `-0`), in documents, arrays and lines.
    #[test]
    fn a_bad_number_is_shown_as_written() {
        for written in ["1e2", "-0", "2.0"] {
            let object = format!("{{\"order_id\": 1, \"product_id\": 1, \"quantity\": {written}}}");
            let err = parse(&object).unwrap_err();
            assert!(err.contains(&format!("got {written}")), "{err}");
            let err = parse(&format!("[\n{object}]")).unwrap_err();
            assert!(err.contains(&format!("got {written}")), "{err}");
            let err = lines(&format!("{object}\n")).unwrap_err();
            assert!(err.contains(&format!("got {written}")), "{err}");
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
    fn a_positional_array_is_not_an_order() {
        let err = parse("[[1, 101, 2]]").unwrap_err();
        assert!(err.contains("expected an order object"), "{err}");
        let err = lines("[1, 101, 2]").unwrap_err();
        assert!(
            err.starts_with("o.jsonl:1:1: invalid type: sequence"),
            "{err}"
        );
    }

    #[test]
    fn an_object_cut_short_is_reported_on_its_own_line() {
        let err =
            lines("{\"order_id\": 1, \"product_id\": 1, \"quantity\": 1}\n{\"order_id\": 2\n")
                .unwrap_err();
        assert!(err.starts_with("o.jsonl:2:"), "{err}");
        assert!(!err.starts_with("o.jsonl:2:0"), "{err}");
    }

    #[test]
    fn an_overlong_line_is_invalid_and_skipped() {
        let long = format!("{{\"order_id\": 1, \"pad\": \"{}\"}}", "x".repeat(MAX_LINE));
        let text = format!("{long}\n{{\"order_id\": 2, \"product_id\": 1, \"quantity\": 1}}\n");
        let mut reader = JsonLines::new(Path::new("o.jsonl"), text.as_bytes(), 10);
        let first = reader.next().expect("a result").unwrap_err().to_string();
        assert!(first.contains("line longer than"), "{first}");
        let second: Order = reader
            .next()
            .expect("a result")
            .expect("the next line is read");
        assert_eq!(second.order_id.get(), 2);
    }

    /// A line of exactly the limit is read whole, and the next line is still read: nothing is
    /// swallowed at the boundary (with `\n` or `\r\n`), and one byte more is refused.
    #[test]
    fn a_line_of_exactly_the_limit_is_read_and_the_next_one_too() {
        let order = |id: u64, len: usize| {
            let head = format!("{{\"order_id\": {id}, \"product_id\": 1, \"quantity\": 1");
            let tail = "}";
            let pad = len - head.len() - tail.len();
            format!("{head}{}{tail}", " ".repeat(pad))
        };
        for ending in ["\n", "\r\n"] {
            let text = format!("{}{ending}{}{ending}", order(1, MAX_LINE), order(2, 60));
            let read: Vec<u64> =
                JsonLines::<Order, _>::new(Path::new("o.jsonl"), text.as_bytes(), 10)
                    .map(|r| r.map(|o| o.order_id.get()).map_err(|e| e.to_string()))
                    .collect::<Result<_, _>>()
                    .expect("both lines valid");
            assert_eq!(read, [1, 2], "line ending {ending:?}");

            let text = format!("{}{ending}{}{ending}", order(1, MAX_LINE + 1), order(2, 60));
            let mut reader = JsonLines::<Order, _>::new(Path::new("o.jsonl"), text.as_bytes(), 10);
            let err = reader.next().expect("a result").unwrap_err().to_string();
            assert!(
                err.contains("o.jsonl:1:65537: line longer than 65536 bytes"),
                "{err}"
            );
            let next = reader.next().expect("a result").expect("line 2 read");
            assert_eq!(next.order_id.get(), 2);
            assert_eq!(reader.stats().lines, 2);
        }
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
