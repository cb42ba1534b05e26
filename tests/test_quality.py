from generator.samples.quality import flag

PROMPT = "The rover drove across the crater. Its wheels were worn. The team was worried."


def test_usable_sample():
    assert flag(PROMPT, " Engineers planned a slower route along the rim, avoiding sharp rocks.") == ""


def test_empty_or_nearly():
    assert flag(PROMPT, "") == "empty"
    assert flag(PROMPT, "\n\n  ...") == "empty"
    assert flag(PROMPT, " Yes it did.") == "empty"


def test_copying_the_prompt():
    assert flag(PROMPT, " The rover drove across the crater. Its wheels were worn. The team") == "copy"


def test_loop():
    assert flag(PROMPT, " and then the dust and then the dust and then the dust and then the dust and then the dust") == "loop"
