"""HTTP routes of the feature catalog."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, get, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Link
from litestar.params import JSONBody, Parameter

from tally.catalog.service import CatalogService
from tally.domain.catalog import Feature, FeatureIn
from tally.domain.keys import FEATURE_KEY_PATTERN, FeatureKey
from tally.http.auth import Permission, requires
from tally.http.openapi import linked, problems


class CatalogController(Controller):
    path = "/api/v1/billing/features"
    tags = ["catalog"]

    @get(
        "/",
        operation_id="list_features",
        summary="List the feature catalog",
        description="Every metered feature, sorted by `feature_key`. Any authenticated role may read it.",
        opt=requires(Permission.READ_USAGE),
        responses=problems(401, 403),
    )
    async def list_features(self, catalog: NamedDependency[CatalogService]) -> list[Feature]:
        return await catalog.list_features()

    @put(
        "/{feature_key:str}",
        operation_id="put_feature",
        summary="Create or update a feature",
        description=(
            "Creates the feature (201) or updates it (200). `unit`, `aggregation`, `unique_by` and `approximate` "
            "cannot change once usage has been recorded for the feature (409). `unique_by` and `approximate` go with "
            "`aggregation: unique_count` only, and `unique_by` must be one of `dimensions`, else 400. Platform role "
            "only."
        ),
        opt=requires(Permission.MANAGE_CATALOG),
        status_code=200,
        operation_class=linked(
            record_usage=Link(
                operation_id="record_usage_events",
                request_body={"events": [{"feature_key": "$response.body#/feature_key"}]},
                description="Record usage in the feature.",
            ),
            totals=Link(
                operation_id="get_usage_totals",
                parameters={"feature_keys": "$response.body#/feature_key"},
                description="The feature's totals.",
            ),
        ),
        responses={
            201: ResponseSpec(data_container=Feature, description="The feature was created.", generate_examples=False),
            **problems(400, 401, 403, 409, body=True),
        },
    )
    async def put_feature(
        self,
        catalog: NamedDependency[CatalogService],
        # The pattern again on the parameter: Litestar does not carry msgspec's Meta into a path parameter's schema,
        # and without it the document promised that any string is a valid key (found by schemathesis).
        feature_key: Annotated[
            FeatureKey, Parameter(description="Key of the feature to create or update.", pattern=FEATURE_KEY_PATTERN)
        ],
        data: JSONBody[FeatureIn],
    ) -> Response[Feature]:
        feature, created = await catalog.put_feature(feature_key, data)
        return Response(feature, status_code=201 if created else 200)
