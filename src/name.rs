//! Closed sets of names: a choreography's services and its event kinds. The bottom of the
//! crate: everything that lists services or kinds does it through [`Name::ALL`].

use std::fmt;
use std::hash::Hash;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A closed set of names: a choreography's services, or its event kinds. Implement it with
/// [`names!`](crate::names), which writes the enum and this impl from one list.
pub trait Name:
    Copy
    + Eq
    + Ord
    + Hash
    + fmt::Debug
    + fmt::Display
    + Send
    + Sync
    + Serialize
    + DeserializeOwned
    + 'static
{
    /// Every name, in the order views list them (for kinds: the happy path first reads best).
    const ALL: &'static [Self];

    /// The name as written in output and JSON.
    fn name(self) -> &'static str;

    /// Its position in the declaration, 0-based: tables indexed by it cover every name.
    fn index(self) -> usize;

    /// Its short name, as a key in per-service config tables
    /// (`[simulation.latency] inventory = ...`) and on the command line: lower case, no
    /// spaces. The name itself unless the set says otherwise (`names!` with `= "key"`).
    fn key(self) -> &'static str {
        self.name()
    }

    /// The name spelled `text`, if any.
    fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|n| n.name() == text)
    }
}

/// Writes an enum and its [`Name`] impl from one list of variants, each with its doc comment
/// and, for services, its short config key (`= "inventory"`).
///
/// ```
/// choreo::names! {
///     /// The trip's services.
///     pub enum TripService { Flights = "flight", Hotels = "hotel" }
/// }
/// use choreo::name::Name;
/// assert_eq!(TripService::ALL, &[TripService::Flights, TripService::Hotels]);
/// assert_eq!(TripService::Hotels.name(), "Hotels");
/// assert_eq!(TripService::Hotels.key(), "hotel");
/// ```
#[macro_export]
macro_rules! names {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($(#[$vmeta:meta])* $variant:ident $(= $key:literal)?),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, $crate::serde::Serialize, $crate::serde::Deserialize)]
        #[serde(crate = "choreo::serde")]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $crate::name::Name for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];

            fn name(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }

            fn index(self) -> usize {
                self as usize
            }

            fn key(self) -> &'static str {
                match self { $($name::$variant => $crate::names!(@key $variant $($key)?)),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::name::Name::name(*self))
            }
        }
    };
    (@key $variant:ident) => { stringify!($variant) };
    (@key $variant:ident $key:literal) => { $key };
}
