"""The committed SDL is the API's documentation: it must match the code, and describe everything."""
from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInterfaceType, GraphQLObjectType

from schema import schema

SDL = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_committed_sdl_matches_the_code():
    assert SDL.read_text() == schema.as_str() + "\n", "regenerate with: .venv/bin/python -m schema > schema.graphql"


def test_every_public_type_and_field_is_described():
    missing = []
    for name, gql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not gql_type.description:
            missing.append(name)
        for field_name, field in getattr(gql_type, "fields", {}).items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
    assert missing == []


def test_every_argument_and_enum_value_is_described():
    """graphql-schema-linter's arguments-have-descriptions and enum-values-have-descriptions, in Python."""
    missing = []
    for name, gql_type in schema._schema.type_map.items():
        if name.startswith("__"):
            continue
        if isinstance(gql_type, GraphQLEnumType):
            missing += [f"{name}.{value}" for value, v in gql_type.values.items() if not v.description]
        if isinstance(gql_type, (GraphQLObjectType, GraphQLInterfaceType)):
            missing += [f"{name}.{field_name}({arg})" for field_name, field in gql_type.fields.items()
                        for arg, a in field.args.items() if not a.description]
    assert missing == []
