"""The end-to-end benchmark (`make bench-e2e`, issue 11): CPU, latency and memory of a full-duplex session, rtaudiod
side by side with the clients a user would write instead, each in its own process against one `rtaudiod-sim`
process per run. `python -m benchmarks.e2e --help`; the results go to benchmarks/RESULTS.md."""
