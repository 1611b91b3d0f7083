"""The harness's scenarios; each takes the shared Context and returns ScenarioResults."""
