//! A Ballista cluster that runs jensen's E-step: the client's context ([`client`]), and the
//! scheduler and executor processes ([`run_scheduler`], [`run_executor`]), each with
//! jensen's codecs ([`crate::codec`]) so that the aggregate travels with its job. The
//! `jensen-ballista` binary starts them: `jensen-ballista scheduler`, `jensen-ballista
//! executor`.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista::prelude::SessionContextExt;
use ballista_core::extension::SessionConfigExt;
use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::codec::{LogicalCodec, PhysicalCodec};
use crate::Error;

/// A context whose queries run on the Ballista scheduler at `address` (`host:port`), which
/// must be listening; `in_order`: each partition reads whole files in order ([`in_order`]).
pub async fn client(address: &str, in_order: bool) -> Result<SessionContext, Error> {
    let reach = |why: String| {
        Error::Engine(format!(
            "cannot reach a Ballista scheduler at {address} ({why}): start one there with `jensen-ballista scheduler --bind {address}`, and executors with `jensen-ballista executor --scheduler {address}`"
        ))
    };
    let connect = tokio::net::TcpStream::connect(address);
    match tokio::time::timeout(std::time::Duration::from_secs(10), connect).await {
        Err(_) => return Err(reach("no answer in 10 s".into())),
        Ok(Err(e)) => return Err(reach(e.to_string())),
        Ok(Ok(_)) => {}
    }
    let mut config = SessionConfig::new_with_ballista()
        .with_ballista_logical_extension_codec(Arc::new(LogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(PhysicalCodec::default()));
    if in_order {
        config = self::in_order(config);
    }
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    SessionContext::remote_with_state(&format!("df://{address}"), state)
        .await
        .map_err(|e| Error::Engine(format!("the scheduler at {address}: {e}")))
}

/// `config` with scans that read each file whole, in order, in one partition: neither split
/// into ranges nor dealt out batch by batch to more partitions. A chain's E-step needs it:
/// forward–backward runs along whole sequences, in order.
pub fn in_order(config: SessionConfig) -> SessionConfig {
    config
        .with_repartition_file_scans(false)
        .with_round_robin_repartition(false)
}

/// Runs a scheduler listening on `bind` until the process ends.
pub async fn run_scheduler(bind: SocketAddr) -> Result<(), Error> {
    let mut config = SchedulerConfig::default()
        .with_hostname(bind.ip().to_string())
        .with_port(bind.port());
    config.override_logical_codec = Some(Arc::new(LogicalCodec::default()));
    config.override_physical_codec = Some(Arc::new(PhysicalCodec::default()));
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| Error::Engine(format!("the scheduler's state: {e}")))?;
    start_server(cluster, bind, Arc::new(config))
        .await
        .map_err(|e| Error::Engine(format!("the scheduler on {bind}: {e}")))
}

/// Where an executor listens and which scheduler it joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutorOptions {
    /// The address it listens on (and tells the scheduler).
    pub host: String,
    /// The port of its Arrow Flight service (shuffle data).
    pub port: u16,
    /// The port of its gRPC service (tasks).
    pub grpc_port: u16,
    /// The scheduler's host.
    pub scheduler_host: String,
    /// The scheduler's port.
    pub scheduler_port: u16,
    /// Tasks at a time (`0`: one per core).
    pub slots: usize,
    /// Where it keeps shuffle files (`None`: a temporary directory).
    pub work_dir: Option<String>,
}

/// Runs an executor until the process ends.
pub async fn run_executor(options: ExecutorOptions) -> Result<(), Error> {
    let defaults = ExecutorProcessConfig::default();
    let config = ExecutorProcessConfig {
        bind_host: options.host.clone(),
        external_host: Some(options.host.clone()),
        port: options.port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler_host.clone(),
        scheduler_port: options.scheduler_port,
        // Wait for a scheduler that is still starting.
        scheduler_connect_timeout_seconds: 30,
        vcores: match options.slots {
            0 => defaults.vcores,
            n => n,
        },
        work_dir: options.work_dir.clone(),
        print_thread_info: false,
        override_logical_codec: Some(Arc::new(LogicalCodec::default())),
        override_physical_codec: Some(Arc::new(PhysicalCodec::default())),
        ..defaults
    };
    start_executor_process(Arc::new(config)).await.map_err(|e| {
        Error::Engine(format!(
            "the executor on {}:{}: {e}",
            options.host, options.port
        ))
    })
}
