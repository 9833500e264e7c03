pytest_plugins = ["vedette.testing.pytest_plugin"]
