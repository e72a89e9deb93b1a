//! `koinos-grpc`: the gRPC gateway in front of the microservices.
use koinos_services::grpc::service::{GrpcArgs, run};
use koinos_services::runtime;

fn main() -> std::process::ExitCode {
    runtime::run::<GrpcArgs, _, _>("grpc", run)
}
