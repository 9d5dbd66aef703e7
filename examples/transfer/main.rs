//! A bank transfer saga, on choreo: money leaves one account and arrives in another, or is
//! given back. Four services that only hear each other's events:
//!
//! ```text
//! TransferRequested -> Debited -> Credited -> CustomerNotified -> TransferCompleted
//!                  \-> DebitRejected -> TransferRejected         (nothing to undo)
//!                      Debited -> CreditFailed -> DebitRefunded -> TransferCancelled
//! ```
//!
//! Input records are transfers: `{"transfer_id": 1, "from": 1, "to": 2, "amount_cents": 500}`.
//! The accounts are the transfer's config (`[accounts]`, defaults in `default.toml`).
//!
//! ```text
//! cargo run --release --example transfer -- run examples/transfer/transfers.jsonl
//! cargo run --release --example transfer -- check examples/transfer/transfers.jsonl
//! ```

use std::collections::{BTreeMap, BTreeSet};

use choreo::flow::prelude::*;

choreo::bounded_integer!(
    /// An account's number.
    AccountId(u64), "account", 999_999_999
);

choreo::events! {
    /// What happens to a transfer; amounts and balances in cents.
    pub enum Event: Kind {
        TransferRequested { from: AccountId, to: AccountId, amount_cents: u64 },
        Debited { account: AccountId, amount_cents: u64, balance_cents: u64 },
        Credited { account: AccountId, amount_cents: u64 },
        CustomerNotified { account: AccountId, amount_cents: u64 },
        TransferCompleted => completed,
        DebitRejected { account: AccountId, amount_cents: u64, balance_cents: u64 } => failure,
        TransferRejected => rejected,
        CreditFailed { account: AccountId } => failure,
        DebitRefunded { account: AccountId, amount_cents: u64, balance_cents: u64 } => compensation,
        TransferCancelled => cancelled,
    }
}

/// One transfer to make.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    transfer_id: InstanceId,
    from: AccountId,
    to: AccountId,
    amount_cents: u64,
}

/// The bank: its accounts, by number.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bank {
    #[serde(deserialize_with = "choreo::input::keyed_by_id")]
    accounts: BTreeMap<AccountId, Account>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Account {
    balance_cents: u64,
    #[serde(default)]
    closed: bool,
}

/// `1234` cents as `12.34`.
fn money(cents: &u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Money is conserved: the balances plus the money in flight always sum to what the accounts
/// held at the start. So no transfer's money in flight (debited, less what was credited or
/// refunded) is ever negative, which would be money made, and none is left in flight once
/// every transfer ended, which would be money lost.
fn conserved(_bank: &Bank, events: &[&Envelope<Transfers>], ended: bool) -> Result<(), String> {
    let mut in_flight: BTreeMap<InstanceId, i128> = BTreeMap::new();
    for envelope in events {
        let cents = in_flight.entry(envelope.order_id).or_default();
        match &envelope.event {
            Event::Debited { amount_cents, .. } => *cents += i128::from(*amount_cents),
            Event::Credited { amount_cents, .. } | Event::DebitRefunded { amount_cents, .. } => {
                *cents -= i128::from(*amount_cents)
            }
            _ => {}
        }
    }
    match in_flight
        .iter()
        .find(|(_, cents)| **cents < 0 || (ended && **cents != 0))
    {
        Some((id, cents)) => Err(format!("transfer {id} has {cents} cents in flight")),
        None => Ok(()),
    }
}

choreo::choreography! {
    /// Bank transfers: a debit, then a credit, refunded when the credit fails.
    pub Transfers("transfer") {
        events: Event / Kind,
        input: Transfer / transfer_id,
        about: "Bank transfers: a debit, then a credit, refunded when the credit fails",
        config: Bank, keys ["accounts"], defaults include_str!("default.toml"),
        start: TransferService, |t, _| Event::TransferRequested {
            from: t.from, to: t.to, amount_cents: t.amount_cents,
        },
        narrate: |event, id| match event {
            Event::TransferRequested { from, to, amount_cents } => format!(
                "Transfer {id}: {} from account {from} to account {to}", money(amount_cents)),
            Event::Debited { account, amount_cents, balance_cents } => format!(
                "Debited {} from account {account}, {} left", money(amount_cents), money(balance_cents)),
            Event::DebitRejected { account, amount_cents, balance_cents } => format!(
                "Cannot debit {} from account {account}: {} available", money(amount_cents), money(balance_cents)),
            Event::Credited { account, amount_cents } => format!(
                "Credited {} to account {account}", money(amount_cents)),
            Event::CreditFailed { account } => format!(
                "Cannot credit account {account}: closed or unknown"),
            Event::DebitRefunded { account, amount_cents, balance_cents } => format!(
                "Refunded {} to account {account}, {} left", money(amount_cents), money(balance_cents)),
            Event::CustomerNotified { account, amount_cents } => format!(
                "Told the owner of account {account} that {} arrived", money(amount_cents)),
            Event::TransferCompleted => format!("Transfer {id} completed"),
            Event::TransferRejected => format!("Transfer {id} rejected"),
            Event::TransferCancelled => format!("Transfer {id} cancelled"),
        },
        invariant: conserved,
        // The balances are what transfers share; CreditService only reads which accounts are
        // open (from the config), and the invariant sums each transfer on its own.
        shared: |service, _kind| service == Service::DebitService,
    }
    services: Service {
        /// Requests each transfer, and ends it.
        TransferService: [CustomerNotified, DebitRejected, DebitRefunded]
            -> [TransferRequested, TransferCompleted, TransferRejected, TransferCancelled]
            => |_, _, event, out| match event.event {
                Event::CustomerNotified { .. } => out.publish(Event::TransferCompleted),
                Event::DebitRejected { .. } => out.publish(Event::TransferRejected),
                _ => out.publish(Event::TransferCancelled),
            },
        /// Keeps the ledger: debits the source, takes credits in, refunds a failed credit.
        DebitService(BTreeMap<AccountId, u64> = |bank: &Bank| bank.accounts.iter()
                .map(|(id, account)| (*id, account.balance_cents)).collect())
            : [TransferRequested, Credited, CreditFailed] -> [Debited, DebitRejected, DebitRefunded]
            with Option<(AccountId, u64)>
            => |ledger, debit, event, out| match event.event {
                Event::TransferRequested { from: account, amount_cents, .. } => {
                    match ledger.get_mut(&account).filter(|balance| **balance >= amount_cents) {
                        Some(balance) => {
                            *balance -= amount_cents;
                            *debit = Some((account, amount_cents));
                            out.publish(Event::Debited { account, amount_cents, balance_cents: *balance });
                        }
                        None => out.publish(Event::DebitRejected {
                            account, amount_cents, balance_cents: ledger.get(&account).copied().unwrap_or(0),
                        }),
                    }
                }
                Event::Credited { account, amount_cents } => {
                    *ledger.entry(account).or_default() += amount_cents;
                }
                _ => if let Some((account, amount_cents)) = debit.take() {
                    let balance = ledger.entry(account).or_default();
                    *balance += amount_cents;
                    out.publish(Event::DebitRefunded { account, amount_cents, balance_cents: *balance });
                },
            },
        /// Credits the destination, unless its account is closed or unknown.
        CreditService(BTreeSet<AccountId> = |bank: &Bank| bank.accounts.iter()
                .filter(|(_, account)| !account.closed).map(|(id, _)| *id).collect())
            : [TransferRequested, Debited] -> [Credited, CreditFailed]
            with Option<AccountId>
            => |open, to, event, out| match (event.event.clone(), *to) {
                (Event::TransferRequested { to: account, .. }, _) => *to = Some(account),
                (Event::Debited { amount_cents, .. }, Some(account)) if open.contains(&account) => {
                    out.publish(Event::Credited { account, amount_cents })
                }
                (_, Some(account)) => out.publish(Event::CreditFailed { account }),
                _ => {}
            },
        /// Tells the destination's owner the money arrived.
        NotificationService: [Credited] -> [CustomerNotified]
            => |_, _, event, out| if let Event::Credited { account, amount_cents } = event.event {
                out.publish(Event::CustomerNotified { account, amount_cents });
            },
    }
}

fn main() -> ExitCode {
    Transfers::main()
}
