"""Writes the Lanczos resize cases: inputs drawn by a formula the test repeats, outputs resized by Pillow.

Run with Pillow installed (9.4 here): python3 make_cases.py
"""
from PIL import Image

def pattern(kind, width, height):
    image = Image.new("RGB", (width, height))
    pixels = []
    for y in range(height):
        for x in range(width):
            if kind == "noise":
                pixels.append(tuple(((x * 73856093) ^ (y * 19349663) ^ (c * 83492791)) & 255 for c in range(3)))
            else:
                pixels.append(tuple((x * 255 // (width - 1) + y * 255 // (height - 1) * (c + 1)) % 256 for c in range(3)))
    image.putdata(pixels)
    return image

CASES = [("noise", 37, 29, 32, 24), ("noise", 40, 30, 40, 24), ("noise", 30, 40, 24, 40),
         ("noise", 64, 48, 13, 11), ("noise", 10, 6, 27, 17), ("gradient", 203, 157, 200, 152)]

for kind, width, height, out_width, out_height in CASES:
    resized = pattern(kind, width, height).resize((out_width, out_height), Image.LANCZOS)
    resized.save(f"{kind}_{width}x{height}_to_{out_width}x{out_height}.png")
