"""The committed SDL is the API's documentation: it must match the code, and describe everything."""
from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from schema import schema

SDL = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_sdl_matches_the_code():
    assert SDL.read_text() == schema.as_str() + "\n", "regenerate with: .venv/bin/python -m schema > schema.graphql"


def test_every_public_type_and_field_is_described():
    missing = []
    for name, gql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in ("Query", "Mutation", "String", "Int", "Float", "Boolean", "ID",
                                             "Date", "DateTime"):
            if name not in ("Query", "Mutation"):
                continue
        if isinstance(gql_type, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType, GraphQLEnumType)):
            if not gql_type.description and name not in ("Query", "Mutation"):
                missing.append(name)
            for field_name, field in getattr(gql_type, "fields", {}).items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
    assert missing == []
