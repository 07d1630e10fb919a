"""check_screenshot.py: does a screenshot show Neuroglancer with coloured segments over grey EM?

    python3 check_screenshot.py SHOT.png

Prints the measures as one JSON line; exit 0 when they pass, 1 when not, 77 when PIL or
numpy is missing. What a loaded view looks like, and what the checks rule out:
  - segments: >= 5% of the pixels saturated (HSV s > 0.35, v > 0.2), spread over >= 4 of
    12 hue bins with >= 0.2% of the pixels each (not one flat tint, not a red error box);
  - EM under them: segments over the image are textured, flat fills without it. Of the
    pairs of saturated pixels 3 apart in a row, >= 30% differ by more than 4 in some
    channel (EM under 50% segment colour: about 55%; segments alone: about 10%, their
    borders);
  - grey: >= 10% low-saturation pixels (s < 0.1) spanning >= 32 grey levels (EM and the
    panels; a blank, black or white page has a handful of levels).
"""
import json
import sys

try:
    import numpy as np
    from PIL import Image
except ImportError as e:  # pragma: no cover
    print(f"check_screenshot: skipped ({e})")
    sys.exit(77)


def measure(path):
    rgb = np.asarray(Image.open(path).convert("RGB"))
    hsv = np.asarray(Image.open(path).convert("RGB").convert("HSV")).astype(np.int32)
    h, s, v = hsv[..., 0], hsv[..., 1] / 255.0, hsv[..., 2] / 255.0
    n = rgb.shape[0] * rgb.shape[1]
    sat = (s > 0.35) & (v > 0.2)
    bins = np.bincount((h[sat] * 12) // 256, minlength=12) / n
    cols = rgb[sat].astype(np.int64)
    uniq_sat = len(np.unique(cols[:, 0] * 65536 + cols[:, 1] * 256 + cols[:, 2])) if len(cols) else 0
    pair = sat[:, 3:] & sat[:, :-3]
    diff = np.abs(rgb[:, 3:].astype(np.int32) - rgb[:, :-3].astype(np.int32)).max(axis=2)
    textured = float((diff[pair] > 4).mean()) if pair.any() else 0.0
    grey = (s < 0.1) & (v > 0.03) & (v < 0.97)
    grey_levels = len(np.unique(rgb[..., 1][grey]))
    return {
        "width": int(rgb.shape[1]),
        "height": int(rgb.shape[0]),
        "saturated_fraction": round(float(sat.mean()), 4),
        "hue_bins_over_0.2pct": int((bins >= 0.002).sum()),
        "saturated_colours": int(uniq_sat),
        "textured_fraction": round(textured, 3),
        "grey_fraction": round(float(grey.mean()), 4),
        "grey_levels": int(grey_levels),
    }


def passes(m):
    return (m["saturated_fraction"] >= 0.05 and m["hue_bins_over_0.2pct"] >= 4
            and m["textured_fraction"] >= 0.30 and m["grey_fraction"] >= 0.10
            and m["grey_levels"] >= 32)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    m = measure(sys.argv[1])
    ok = passes(m)
    m["pass"] = ok
    print(json.dumps(m))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
