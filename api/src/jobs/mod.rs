//! Background jobs run by the server process: claimed from the database so that
//! any number of instances can run them and none runs the same work twice at once.

pub mod webhooks;
