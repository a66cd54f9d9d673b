"""Server reflection under both protocol names: ``grpc.reflection.v1`` and ``grpc.reflection.v1alpha``.

Current tools (grpcurl, Postman, ``grpc_cli``) ask for ``grpc.reflection.v1.ServerReflection`` first;
grpcio-reflection serves only ``v1alpha``. The two protocols have the same messages under another
package name, so the same bytes answer both: the servicer of grpcio-reflection is registered under
both names, and the ``v1`` file descriptor (derived at run time from ``v1alpha``'s by renaming its
package) is added to the descriptor pool, so that reflection can also describe itself under ``v1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

__all__ = ("V1ALPHA_SERVICE", "V1_SERVICE", "enable_reflection")

V1ALPHA_SERVICE: str = reflection.SERVICE_NAME
V1_SERVICE = "grpc.reflection.v1.ServerReflection"

_ALPHA_PACKAGE = "grpc.reflection.v1alpha"
_V1_PACKAGE = "grpc.reflection.v1"
_V1_FILE = "grpc/reflection/v1/reflection.proto"


def _renamed(type_name: str) -> str:
    prefix = f".{_ALPHA_PACKAGE}."
    return f".{_V1_PACKAGE}." + type_name[len(prefix):] if type_name.startswith(prefix) else type_name


def _rename_messages(messages: Any) -> None:
    for msg in messages:
        for f in msg.field:
            if f.type_name:
                f.type_name = _renamed(f.type_name)
        _rename_messages(msg.nested_type)


def _add_v1_descriptor(pool: descriptor_pool.DescriptorPool) -> None:
    """Add ``grpc/reflection/v1/reflection.proto`` to ``pool`` (once)."""
    try:
        pool.FindFileByName(_V1_FILE)
        return
    except KeyError:
        pass
    fdp = descriptor_pb2.FileDescriptorProto.FromString(reflection_pb2.DESCRIPTOR.serialized_pb)
    fdp.name = _V1_FILE
    fdp.package = _V1_PACKAGE
    fdp.ClearField("options")  # the v1alpha file's language options (java package, ...) name v1alpha
    _rename_messages(fdp.message_type)
    for service in fdp.service:
        for method in service.method:
            method.input_type = _renamed(method.input_type)
            method.output_type = _renamed(method.output_type)
    pool.AddSerializedFile(fdp.SerializeToString())


def enable_reflection(service_names: Sequence[str], server: grpc.aio.Server) -> None:
    """Serve reflection of ``service_names`` (and of reflection itself, both versions) on ``server``."""
    _add_v1_descriptor(descriptor_pool.Default())
    names = [*service_names, V1_SERVICE, V1ALPHA_SERVICE]
    servicer = reflection.aio.ReflectionServicer(names)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    v1 = grpc.method_handlers_generic_handler(
        V1_SERVICE,
        {
            "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                servicer.ServerReflectionInfo,
                request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
            )
        },
    )
    server.add_generic_rpc_handlers((v1,))
