//! Read models built from the event log. Durable projections arrive with issue 4.
