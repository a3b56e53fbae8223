"""Early warnings of illness-driven poverty (因病返贫/致贫预警), computed alongside each settlement."""
