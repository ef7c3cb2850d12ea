"""Pure logic of the alliance: no I/O, no clock reads; time is an argument."""
