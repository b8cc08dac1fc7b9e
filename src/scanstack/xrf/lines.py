"""X-ray emission line energies (keV) of the elements common in heritage science.

Values are the usual tabulated Kα1/Kβ1/Lα1/Lβ1 energies rounded to 1 eV (e.g. the X-ray Data
Booklet); close enough for energy windows on a ~130 eV FWHM silicon drift detector.
"""

from __future__ import annotations

import math
import re

#: element -> line -> energy in keV
ELEMENT_LINES: dict[str, dict[str, float]] = {
    "Na": {"Ka": 1.041},
    "Mg": {"Ka": 1.254},
    "Al": {"Ka": 1.487},
    "Si": {"Ka": 1.740},
    "P": {"Ka": 2.013},
    "S": {"Ka": 2.307, "Kb": 2.464},
    "Cl": {"Ka": 2.622, "Kb": 2.816},
    "Ar": {"Ka": 2.957},
    "K": {"Ka": 3.314, "Kb": 3.590},
    "Ca": {"Ka": 3.692, "Kb": 4.013},
    "Ti": {"Ka": 4.511, "Kb": 4.932},
    "V": {"Ka": 4.952, "Kb": 5.427},
    "Cr": {"Ka": 5.415, "Kb": 5.947},
    "Mn": {"Ka": 5.899, "Kb": 6.490},
    "Fe": {"Ka": 6.404, "Kb": 7.058},
    "Co": {"Ka": 6.930, "Kb": 7.649},
    "Ni": {"Ka": 7.478, "Kb": 8.265},
    "Cu": {"Ka": 8.048, "Kb": 8.905},
    "Zn": {"Ka": 8.639, "Kb": 9.572},
    "As": {"Ka": 10.544, "Kb": 11.726},
    "Se": {"Ka": 11.222, "Kb": 12.496},
    "Br": {"Ka": 11.924, "Kb": 13.291},
    "Rb": {"Ka": 13.395, "Kb": 14.961},
    "Sr": {"Ka": 14.165, "Kb": 15.836, "La": 1.806},
    "Zr": {"Ka": 15.775, "Kb": 17.668},
    "Mo": {"Ka": 17.479, "Kb": 19.608, "La": 2.293},
    "Rh": {"Ka": 20.216, "Kb": 22.724, "La": 2.697},
    "Ag": {"Ka": 22.163, "Kb": 24.942, "La": 2.984},
    "Cd": {"Ka": 23.174, "Kb": 26.096, "La": 3.134},
    "Sn": {"Ka": 25.271, "Kb": 28.486, "La": 3.444},
    "Sb": {"Ka": 26.359, "Kb": 29.726, "La": 3.605},
    "I": {"Ka": 28.612, "La": 3.938},
    "Ba": {"Ka": 32.194, "La": 4.466, "Lb": 4.828, "Lg": 5.531},
    "W": {"La": 8.398, "Lb": 9.672},
    "Pt": {"La": 9.442, "Lb": 11.071},
    "Au": {"La": 9.713, "Lb": 11.442},
    "Hg": {"La": 9.989, "Lb": 11.823},
    "Pb": {"La": 10.551, "Lb": 12.614, "Ma": 2.342},
    "Bi": {"La": 10.839, "Lb": 13.024},
    "U": {"La": 13.615, "Lb": 17.220},
}

#: lines tried first when only an element is named
PREFERRED = ("Ka", "La", "Lb", "Kb", "Ma")

_NAME = re.compile(r"^\s*([A-Z][a-z]?)[\s\-_]*([KLM][abgl]\d?)?\s*$")


def parse_line(name: str) -> tuple[str, str]:
    """``"FeKa"``, ``"Fe Ka"``, ``"Fe-Ka"`` or ``"Pb"`` -> ``(element, line)``.

    A bare element gets its first line in :data:`PREFERRED` order. Raises KeyError for unknown
    elements or lines (the message lists what is known).
    """
    m = _NAME.match(name)
    if not m or m.group(1) not in ELEMENT_LINES:
        raise KeyError(
            f"unknown element or line {name!r}; known elements: {', '.join(ELEMENT_LINES)}"
        )
    element, line = m.group(1), m.group(2)
    lines = ELEMENT_LINES[element]
    if line is None:
        line = next(k for k in PREFERRED if k in lines)
    line = line[:2]
    if line not in lines:
        raise KeyError(f"{element} has no {line} line in the table (known: {', '.join(lines)})")
    return element, line


def line_energy(name: str) -> float:
    """Energy in keV of a line named like ``"FeKa"`` or ``"PbLa"`` (or an element: ``"Fe"``)."""
    element, line = parse_line(name)
    return ELEMENT_LINES[element][line]


def detector_fwhm(energy_kev: float, noise_kev: float = 0.12, fano_term: float = 0.0025) -> float:
    """Approximate FWHM (keV) of a silicon drift detector peak at ``energy_kev``."""
    return math.sqrt(noise_kev**2 + fano_term * max(energy_kev, 0.0))


def line_window(name: str, width: float | None = None) -> tuple[float, float]:
    """(start, end) keV around a line: ± ``width`` keV, default ± one detector FWHM."""
    e = line_energy(name)
    half = detector_fwhm(e) if width is None else width
    return e - half, e + half
