//! What people see of a run, all derived from the ordered stream of events: text and JSON
//! output, the summary's lines, the journal and its replay, traces, Mermaid diagrams, the
//! HTML report.

pub mod diagram;
pub mod journal;
pub mod output;
pub mod report;
pub mod summary;
pub mod trace;
