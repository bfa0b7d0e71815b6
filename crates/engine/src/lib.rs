//! Executions: the driver around the pure interpreter.
