//! A choreography of one service and one event, for the engine's own unit tests: the engine
//! is tested without the shop.

use std::fmt;
use std::io;

use serde::{Deserialize, Serialize};

use crate::engine::choreography::{
    Cause, Choreography, Envelope, Outbox, Outcome, Role, Service, Services, SpawnError,
};
use crate::flow::{NoConfig, NoStats};
use crate::input::{InstanceId, Record};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Tiny;

crate::names! {
    pub(crate) enum Node { Only = "only" }
}

crate::names! {
    pub(crate) enum Step { Done }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub(crate) enum Signal {
    Done,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Input {
    order_id: InstanceId,
}

impl Record for Input {
    fn id(&self) -> InstanceId {
        self.order_id
    }

    fn at_ms(&self) -> Option<u64> {
        None
    }
}

#[derive(Debug, Clone, Hash)]
pub(crate) struct Only;

impl Service<Tiny> for Only {
    const NAME: Node = Node::Only;
    const SUBSCRIBES: &'static [Step] = &[];
    const PUBLISHES: &'static [Step] = &[Step::Done];
    type State = ();

    fn handle(&mut self, _state: &mut (), _event: &Envelope<Tiny>, _out: &mut Outbox<Tiny>) {}
}

impl Choreography for Tiny {
    const NAME: &'static str = "tiny";
    type Event = Signal;
    type Kind = Step;
    type Service = Node;
    type Input = Input;
    type Config = NoConfig;
    type Stats = NoStats;
    const CONFIG_KEYS: &'static [&'static str] = &[];
    const DEFAULT_CONFIG: &'static str = "";
    const MAX_EVENTS: u64 = 1;

    fn kind(_event: &Signal) -> Step {
        Step::Done
    }

    fn outcome(_kind: Step) -> Option<Outcome> {
        Some(Outcome::Completed)
    }

    fn role(_kind: Step) -> Role {
        Role::Forward
    }

    fn start(_input: &Input, _config: &NoConfig) -> (Node, Signal) {
        (Node::Only, Signal::Done)
    }

    fn services(
        _config: &NoConfig,
        _seed: u64,
        services: &mut impl Services<Self>,
    ) -> Result<(), SpawnError> {
        services.add(Only)
    }

    fn narrate(_envelope: &Envelope<Self>, _out: &mut impl io::Write) -> io::Result<()> {
        Ok(())
    }

    fn facts(_event: &Signal, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }

    fn cause(_envelope: &Envelope<Self>) -> Option<Cause<Node>> {
        None
    }
}
