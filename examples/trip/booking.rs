//! The trip's input record: one booking, and the names it is made of.
//!
//! choreo calls every instance id `order_id`, in input files and journals alike; for the trip
//! it is the booking's id, and the services speak of "trip N".

use std::fmt;
use std::str::FromStr;

use choreo::input::{at_ms, object_only, InstanceId, Record};
use serde::de;
use serde::{Deserialize, Deserializer, Serialize};

/// Longest flight code, hotel name or car class accepted.
pub const MAX_CODE_LEN: usize = 24;
/// Longest traveller's name accepted, in characters.
pub const MAX_TRAVELLER_LEN: usize = 64;
/// Most nights one booking may stay.
pub const MAX_NIGHTS: u64 = 365;

/// Whether `text` can name a flight, hotel or car class: 1 to [`MAX_CODE_LEN`] ASCII letters,
/// digits, `-` or `_`, so it is a bare TOML key and prints without quoting.
fn check_code(text: &str, what: &str) -> Result<(), String> {
    let valid = (1..=MAX_CODE_LEN).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{text}` is not a {what}: expected 1 to {MAX_CODE_LEN} letters, digits, `-` or `_`"
        ))
    }
}

/// Writes a newtype for one kind of name (a flight code, a hotel), checked by [`check_code`]
/// wherever it is read: an input field or a config key.
macro_rules! code {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// A name known to be valid, for tests.
            #[cfg(test)]
            pub fn from_static(text: &str) -> Self {
                text.parse().expect("a valid name")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        /// Parses and checks a name, as in a TOML table key.
        impl FromStr for $name {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                check_code(text, $what).map(|()| $name(text.to_owned()))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(de::Error::custom)
            }
        }
    };
}

code!(
    /// A flight's code (`LH123`): a key of `[flights]`.
    FlightCode,
    "flight code"
);
code!(
    /// A hotel's name (`Adlon`): a key of `[hotels]`.
    HotelName,
    "hotel name"
);
code!(
    /// A class of hire car (`compact`): a key of `[cars]`.
    CarClass,
    "car class"
);

choreo::bounded_integer!(
    /// How many nights the hotel is booked for, 1 ..= [`MAX_NIGHTS`].
    Nights(u32), "nights", MAX_NIGHTS
);

/// Who travels: a name of 1 to [`MAX_TRAVELLER_LEN`] characters, not blank, without control
/// characters (it is printed on one line).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Traveller(String);

impl Traveller {
    pub fn new(name: &str) -> Result<Self, String> {
        let chars = name.chars().count();
        if (1..=MAX_TRAVELLER_LEN).contains(&chars)
            && !name.trim().is_empty()
            && !name.chars().any(char::is_control)
        {
            Ok(Traveller(name.to_owned()))
        } else {
            Err(format!(
                "traveller must be a name of 1 to {MAX_TRAVELLER_LEN} characters on one line, got {name:?}"
            ))
        }
    }
}

impl fmt::Display for Traveller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Traveller {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Traveller::new(&name).map_err(de::Error::custom)
    }
}

/// One booking, as read from a bookings file:
/// `{"order_id": 1, "traveller": "Ada", "flight": "LH123", "hotel": "Adlon", "car": "compact", "nights": 2}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Booking {
    /// The booking's id (choreo's `order_id`), unique within a run.
    pub order_id: InstanceId,
    pub traveller: Traveller,
    pub flight: FlightCode,
    pub hotel: HotelName,
    pub car: CarClass,
    pub nights: Nights,
    /// When the booking arrives, in milliseconds since the run started; absent, the
    /// configured arrival process decides.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
}

/// The fields of a booking object, as written in a file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BookingObject {
    order_id: InstanceId,
    traveller: Traveller,
    flight: FlightCode,
    hotel: HotelName,
    car: CarClass,
    nights: Nights,
    #[serde(default, deserialize_with = "at_ms")]
    at_ms: Option<u64>,
}

/// Only an object is a booking: the positional form serde derives for structs
/// (`[1, "Ada", ...]`) is refused.
impl<'de> Deserialize<'de> for Booking {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let b: BookingObject = object_only(deserializer, "a booking object")?;
        Ok(Booking {
            order_id: b.order_id,
            traveller: b.traveller,
            flight: b.flight,
            hotel: b.hotel,
            car: b.car,
            nights: b.nights,
            at_ms: b.at_ms,
        })
    }
}

impl Record for Booking {
    fn id(&self) -> InstanceId {
        self.order_id
    }

    fn at_ms(&self) -> Option<u64> {
        self.at_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Booking, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    /// A booking is read from an object with every field, `at_ms` optional.
    #[test]
    fn a_booking_is_read_from_an_object() {
        let booking = parse(
            r#"{"order_id": 7, "traveller": "Ada Lovelace", "flight": "LH123", "hotel": "Adlon", "car": "compact", "nights": 2, "at_ms": 5}"#,
        )
        .expect("valid");
        assert_eq!(booking.order_id.get(), 7);
        assert_eq!(booking.traveller.to_string(), "Ada Lovelace");
        assert_eq!(booking.flight.as_str(), "LH123");
        assert_eq!(booking.hotel.as_str(), "Adlon");
        assert_eq!(booking.car.as_str(), "compact");
        assert_eq!(booking.nights.get(), 2);
        assert_eq!(booking.at_ms, Some(5));
    }

    /// A misspelt field is an error where it stands, not a field silently ignored.
    #[test]
    fn an_unknown_field_is_refused() {
        let err = parse(
            r#"{"order_id": 1, "traveller": "Ada", "flight": "LH123", "hotel": "Adlon", "car": "compact", "nights": 2, "night": 3}"#,
        )
        .unwrap_err();
        assert!(err.contains("unknown field `night`"), "{err}");
    }

    /// Only an object is a booking: an array of its values is refused.
    #[test]
    fn the_positional_form_is_refused() {
        let err = parse(r#"[1, "Ada", "LH123", "Adlon", "compact", 2]"#).unwrap_err();
        assert!(err.contains("expected a booking object"), "{err}");
    }

    /// Names with spaces or nothing at all, and stays of no night, are refused with what was
    /// expected.
    #[test]
    fn bad_names_and_nights_are_refused_with_what_is_expected() {
        let with = |field: &str, value: &str| {
            let mut object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
                r#"{"order_id": 1, "traveller": "Ada", "flight": "LH123", "hotel": "Adlon", "car": "compact", "nights": 2}"#,
            )
            .expect("valid JSON");
            object.insert(
                field.into(),
                serde_json::from_str(value).expect("JSON value"),
            );
            parse(&serde_json::Value::Object(object).to_string()).unwrap_err()
        };
        assert!(
            with("flight", r#""LH 123""#).contains("`LH 123` is not a flight code"),
            "{}",
            with("flight", r#""LH 123""#)
        );
        assert!(with("hotel", r#""""#).contains("`` is not a hotel name"));
        assert!(with("traveller", r#""  ""#).contains("traveller must be a name"));
        assert!(with("nights", "0").contains("nights must be a whole number from 1 to 365"));
    }
}
