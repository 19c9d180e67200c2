"""The design floor as a warm handler, making no AWS call: what every HTTP request costs before our code.

A validating Powertools ``APIGatewayRestResolver`` with one pydantic route, Logger and Metrics
(``cold_child.design_floor_handler``), served by the warm benchmark beside the real operations.
"""

from benchmarks.cold_child import design_floor_handler

lambda_handler = design_floor_handler([])
