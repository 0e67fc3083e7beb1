"""Support for the demo and the tests: emulation that moto lacks, kept out of the core path."""
