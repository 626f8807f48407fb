"""siting: planning the network of community Party-and-masses service sites (党群服务站点).

Load communities and sites, measure walking coverage over the street network, check floor-area
compliance against standards profiles, find gaps and propose new stations.
"""

from __future__ import annotations

from siting._errors import InputError, Problem, SitingWarning

__all__ = ["InputError", "Problem", "SitingWarning", "__version__"]
__version__ = "0.1.0"
