//! Readers for recorded logs: EVTX and JSON lines, streamed, with schema detection.
