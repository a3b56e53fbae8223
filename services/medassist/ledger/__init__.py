"""Double-entry fund accounts per county (digest §八), fed by payment instructions and fund movements."""
