"""Test-wide settings.

The tests run on the small `synthetic` shipped model (fast, and its classes are those of the
synthetic videos the tests make): commands given no --checkpoint use it because
AXIALVS_DEFAULT_MODEL names it here. Tests of the real default unset it themselves.
"""

import os

os.environ["AXIALVS_DEFAULT_MODEL"] = "synthetic"
