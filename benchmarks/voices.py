"""espeak-ng speech for the wake-word and listening-mode measurements: voices, and sentences with no wake word."""

import subprocess

# (espeak-ng voice, words per minute, pitch 0-99): accents, sexes, speeds
VARIANTS = [("en-us", 150, 50), ("en-gb", 175, 50), ("en-us+f3", 160, 60), ("en-gb-scotland", 140, 45),
            ("en-gb-x-rp+m3", 190, 50), ("en-us+f2", 130, 70), ("en-029", 165, 50), ("en-gb-x-gbclan+f4", 150, 55),
            ("en-us-nyc", 180, 40), ("en-gb-x-gbcwmd+m5", 145, 50)]
OTHER = [
    "Could you pass me the salt and the pepper, please?", "I think the pasta needs another five minutes.",
    "The train to the city was late again this morning.", "Did you remember to call your mother back?",
    "We should paint the fence before the summer is over.", "The children are playing football in the garden.",
    "Put the leftovers in the fridge, not on the counter.", "My meeting got moved to half past three.",
    "Okay, so what do we need from the store?", "Hey, have you seen my keys anywhere?",
    "Alex said he would come over around eight.", "The news said it would rain all weekend.",
    "I am not sure the oven is hot enough yet.", "Let's have soup and bread for dinner tonight.",
    "Nobody told me the game was cancelled.", "Can you help me carry these bags upstairs?",
    "The dishwasher is making that strange noise again.", "Okay, now stir the sauce slowly.",
    "Her flight lands at seven, so we leave at six.", "This recipe calls for two cups of flour.",
    "I read that book last year and loved it.", "Hey, dinner is ready, come and eat.",
    "The cat knocked the glass off the table.", "Turn the music down a little, please.",
    "We are out of coffee and eggs.", "Jarred tomatoes are fine for this sauce.",
]


def espeak(text: str, voice: str = "en-us", wpm: int = 175, pitch: int = 50, rate: int = 48000) -> bytes:
    """16-bit mono PCM at `rate`: espeak-ng, resampled by sox."""
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "--stdout", text],
                         check=True, capture_output=True, timeout=30).stdout
    return subprocess.run(["sox", "-t", "wav", "-", "-t", "raw", "-r", str(rate), "-c", "1", "-b", "16",
                           "-e", "signed-integer", "-"], input=wav, check=True, capture_output=True, timeout=30).stdout


