"""A non-Rust client of the coordinator's standard gRPC surface, run by
tests/tests/grpc_surface.rs against a real coordinator.

usage: grpc_surface.py HOST:PORT TOKEN

With no copy of the proto, it checks that:
- grpc.health.v1.Health answers SERVING for "" and for pathgrid.v1.Jobs and pathgrid.v1.Workers,
  without the token;
- server reflection lists pathgrid.v1.Jobs and pathgrid.v1.Workers, without the token;
- the schema it serves is enough to call Jobs.ListNodes, which still needs the token.
Prints one line per check; exits non-zero on the first failure.
"""

import sys

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def main() -> int:
    target, token = sys.argv[1], sys.argv[2]
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)

        health = health_pb2_grpc.HealthStub(channel)
        for service in ["", "pathgrid.v1.Jobs", "pathgrid.v1.Workers"]:
            reply = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=30)
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
            print(f"health {service or '(server)'}: {status}")
            if reply.status != health_pb2.HealthCheckResponse.SERVING:
                return 1

        reflection = ProtoReflectionDescriptorDatabase(channel)
        services = sorted(reflection.get_services())
        print("services: " + " ".join(services))
        for wanted in ["pathgrid.v1.Jobs", "pathgrid.v1.Workers", "grpc.health.v1.Health"]:
            if wanted not in services:
                print(f"missing service {wanted}")
                return 1

        # Build the request and reply types from the reflected schema alone.
        pool = descriptor_pool.DescriptorPool(reflection)
        method = pool.FindServiceByName("pathgrid.v1.Jobs").FindMethodByName("ListNodes")
        request_type = message_factory.GetMessageClass(method.input_type)
        reply_type = message_factory.GetMessageClass(method.output_type)
        list_nodes = channel.unary_unary(
            "/pathgrid.v1.Jobs/ListNodes",
            request_serializer=request_type.SerializeToString,
            response_deserializer=reply_type.FromString,
        )
        try:
            list_nodes(request_type(), timeout=30)
            print("ListNodes without the token: accepted")
            return 1
        except grpc.RpcError as e:
            print(f"ListNodes without the token: {e.code().name}")
            if e.code() != grpc.StatusCode.UNAUTHENTICATED:
                return 1
        reply = list_nodes(request_type(), timeout=30, metadata=[("authorization", f"Bearer {token}")])
        print(f"ListNodes with the token: {len(reply.nodes)} nodes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
