//! `player`: joins a game (or a plain chat) on a multicast group. Parses flags, sets up the
//! terminal or the JSON interface, then calls the library.

mod cli;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use cli::{KeyArgs, NatsArgs, NetArgs, Place};
use gamecast::event::Event;
use gamecast::link::nats::Nats;
use gamecast::link::{Link, Network};
use gamecast::player::{self, Options, Outcome, Played};
use gamecast::record::{Header, Recorded, Recording, Replay};
use gamecast::render::{self, Style};
use gamecast::view::board::Phase;
use gamecast::view::command::{self, Routed};
use gamecast::view::{Board, Theme, View, terminal};
use rustyline::ExternalPrinter as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;

/// Joins a gamecast game (or a plain multicast chat) and shows everything that happens.
/// Type to chat or play; `quit` leaves.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Your name in the game (1 to 24 characters)
    #[arg(long, env = "GAMECAST_NAME", required_unless_present = "replay")]
    name: Option<String>,
    #[command(flatten)]
    net: NetArgs,
    #[command(flatten)]
    nats: NatsArgs,
    #[command(flatten)]
    key: KeyArgs,
    /// One JSON object per line for each event on stdout, lines to send on stdin
    /// (for bots, tests and tools)
    #[arg(long)]
    json: bool,
    /// How often to tell the announcer we are here when we have nothing to say, in seconds
    #[arg(long, default_value_t = 0.5, value_name = "SECONDS", value_parser = parse_interval)]
    heartbeat: f64,
    /// The announcer is unreachable after this many of its heartbeats without a word
    #[arg(long, default_value_t = gamecast::reliable::MISSED_BEATS, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    missed: u32,
    /// On exit, print what loss repair did, and what the game key's checks dropped, as one
    /// JSON object on stderr (for benchmarks and tests)
    #[arg(long)]
    stats: bool,
    /// The scrolling line mode even in a terminal (what pipes, screen readers and TERM=dumb get)
    #[arg(long)]
    plain: bool,
    /// Only ASCII symbols: no emoji or box drawing (automatic when the locale is not UTF-8)
    #[arg(long)]
    ascii: bool,
    /// Ring the terminal's bell when a turn or a question begins (full-screen view)
    #[arg(long)]
    bell: bool,
    /// Record every datagram sent and received, with its time, into FILE (see
    /// docs/recording.md): --replay FILE shows the game again
    #[arg(long, value_name = "FILE", conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// Show a recorded game (a player's or an announcer's --record) as it happened, in any mode;
    /// nothing is sent. With --key-file, its signatures are checked
    #[arg(long, value_name = "FILE")]
    replay: Option<PathBuf>,
    /// With --replay: how many times as fast as it happened (0.01 to 1000)
    #[arg(long, default_value_t = 1.0, value_name = "X", requires = "replay",
          value_parser = parse_speed)]
    speed: f64,
}

fn parse_speed(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(speed) if speed.is_finite() && (0.01..=1000.0).contains(&speed) => Ok(speed),
        _ => Err(format!("expected a speed from 0.01 to 1000, not {text:?}")),
    }
}

fn parse_interval(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && (0.01..=60.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!(
            "expected a number of seconds from 0.01 to 60, not {text:?}"
        )),
    }
}

/// The lab's prompt.
const PROMPT: &str = "Message <quit>: ";

fn main() -> ExitCode {
    cli::exit_on_panic("player");
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Refused(_)) => ExitCode::FAILURE,
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("player: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    if let Some(path) = &cli.replay {
        return replay(&cli, path);
    }
    let place = cli::place(&cli.net, &cli.nats)?;
    let name = cli.name.clone().unwrap_or_default();
    if let Some(problem) = gamecast::text::name_problem(&name) {
        anyhow::bail!("--name: {problem}");
    }
    let options = options(&cli)?;
    // One thread: one socket, one screen; more threads would only add hand-offs.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mode = mode(&cli);
    let outcome = runtime.block_on(async {
        match place {
            Place::Nats(nats) => {
                let network = Nats::connect(&nats).await?;
                let place = network.place();
                let alone = gamecast::view::alone_on_nats(&place);
                let mut options = options;
                if cli.nats.nats_history {
                    // Without its history the game can still be played: from here on.
                    match network.history().await {
                        Ok(Some(history)) => options.history = history,
                        Ok(None) => eprintln!(
                            "player: warning: no history is kept for {} (its announcer runs \
                             without --nats-history): the game from here on only",
                            network.subject()
                        ),
                        Err(e) => eprintln!("player: warning: {e:#}: the game from here on only"),
                    }
                }
                let game = Session::live(&name, place, alone, options);
                live(&cli, network.open().await?, game, mode).await
            }
            Place::Group(net) => {
                let place = net.place();
                let alone = gamecast::view::alone(&place, &gamecast::transport::lan_interfaces());
                let game = Session::live(&name, place, alone, options);
                live(&cli, net.open().await?, game, mode).await
            }
        }
    });
    // The stdin reader may be blocked in a read that never ends (a terminal, an open pipe):
    // do not wait for it.
    runtime.shutdown_background();
    outcome
}

/// Plays a live game on `link`, recording it into `--record`'s file when given.
async fn live(
    cli: &Cli,
    link: impl Link,
    game: Session<'_>,
    mode: Mode,
) -> anyhow::Result<Outcome> {
    let header = Header::new("player", Some(game.name), &game.place);
    let link = Recorded::new(link, cli.record.as_deref(), &header)?;
    session(cli, link, game, mode, cli::stop_requested()).await
}

/// The player's options from the flags.
fn options(cli: &Cli) -> anyhow::Result<Options> {
    Ok(Options {
        heartbeat: std::time::Duration::from_secs_f64(cli.heartbeat),
        missed: cli.missed,
        key: cli.key.load()?,
        ..Options::default()
    })
}

/// How the person sees the game, from the flags and the terminal.
fn mode(cli: &Cli) -> Mode {
    let interactive =
        !cli.json && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    Mode {
        full_screen: interactive && !cli.plain && cli::full_screen_fits(),
        interactive,
        theme: Theme {
            colour: render::colour_wanted(true),
            ascii: cli.ascii || !cli::utf8_locale(),
        },
    }
}

/// `--replay FILE`: the recorded game again, as the player who recorded it (or as a spectator,
/// for an announcer's recording), until the recording ends or the person stops it.
fn replay(cli: &Cli, path: &std::path::Path) -> anyhow::Result<Outcome> {
    let recording = Recording::read(path)?;
    if let Some(warning) = &recording.warning {
        eprintln!("player: warning: {warning}");
    }
    let mut options = options(cli)?;
    let identity = recording
        .identity()
        .filter(|_| recording.header.role == "player");
    let name = match identity {
        Some((name, session)) => {
            options.session = Some(session);
            name
        }
        None => {
            options.spectator = true;
            recording
                .header
                .name
                .clone()
                .unwrap_or_else(|| "replay".to_string())
        }
    };
    let place = format!(
        "a recording of {} ({})",
        recording.header.link,
        path.display()
    );
    let alone = format!("No announcer in {}: nothing to show.", path.display());
    // The announcer's heartbeats come `speed` times as often: its silence is judged on the
    // recording's clock, not the room's.
    options.missed = ((f64::from(options.missed) / cli.speed).ceil() as u32).clamp(1, 100_000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        let link = Replay::new(recording, cli.speed);
        let ended = link.end();
        let stop = async move {
            tokio::select! {
                () = cli::stop_requested() => {}
                () = tokio::time::sleep_until(ended) => {}
            }
        };
        let game = Session {
            name: &name,
            place,
            alone,
            options,
            replay: true,
        };
        session(cli, link, game, mode(cli), stop).await
    });
    runtime.shutdown_background();
    outcome
}

/// How the person sees the game.
#[derive(Debug, Clone, Copy)]
struct Mode {
    full_screen: bool,
    interactive: bool,
    theme: Theme,
}

/// Who plays where.
struct Session<'a> {
    name: &'a str,
    place: String,
    alone: String,
    options: Options,
    /// A replay: the end of input does not end it (a pipe with nothing to say closes at once).
    replay: bool,
}

impl<'a> Session<'a> {
    /// A live game's session (not a replay).
    fn live(name: &'a str, place: String, alone: String, options: Options) -> Session<'a> {
        Session {
            name,
            place,
            alone,
            options,
            replay: false,
        }
    }
}

/// Plays on `link` in the mode chosen until `shutdown` (or the game's end), then says how it
/// went.
async fn session(
    cli: &Cli,
    transport: impl Link,
    game: Session<'_>,
    Mode {
        full_screen,
        interactive,
        theme,
    }: Mode,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<Outcome> {
    if let Some(warning) = transport.warning() {
        eprintln!("player: warning: {warning}");
    }
    let name = game.name;
    let Played {
        outcome,
        stats,
        rejected,
    } = if full_screen {
        let view = View::new(name, &game.place, theme);
        let settings = terminal::Settings {
            bell: cli.bell,
            alone: game.alone,
        };
        terminal::play(view, transport, game.options, settings, shutdown).await
    } else if interactive {
        play_in_terminal(game, transport, theme, shutdown).await
    } else {
        play_on_pipes(game, cli.json, transport, theme, shutdown).await
    }?;
    if cli.stats {
        let mut report = serde_json::to_value(&stats)?;
        report["rejected"] = serde_json::to_value(&rejected)?;
        eprintln!("{report}");
    }
    if let Outcome::Refused(reason) = &outcome {
        eprintln!("player: the announcer refused {name:?}: {reason}");
    }
    Ok(outcome)
}

/// Prints a line on stdout. When its reader went away (a closed pipe: `player --json | head`)
/// there is nobody left to show the game to: the player ends, quietly.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, $($arg)*).and_then(|()| stdout.flush()).is_err() {
            std::process::exit(0);
        }
    }};
}

/// A line on its way to the session: a move answers the countdown running (no warning then).
fn typed(board: &Mutex<Board>, line: String) -> String {
    let mut board = lock(board);
    let is_move = gamecast::player::core::is_move(&board.moves, line.trim());
    board.typed(is_move);
    line
}

/// Says `warn`'s line once per countdown about to run out without a move from this player
/// (the full-screen view turns its countdown red instead).
fn warn_before_timeouts(board: Arc<Mutex<Board>>, mut warn: impl FnMut(String) + Send + 'static) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
        loop {
            tick.tick().await;
            let warning = lock(&board).warning(std::time::Instant::now());
            if let Some(text) = warning {
                warn(format!("[{text}]"));
            }
        }
    });
}

/// Lines of the player's own, wrapped at words to the terminal's width.
fn fitted(lines: &[String]) -> Vec<String> {
    let Some((width, _)) = crossterm::terminal::size().ok() else {
        return lines.to_vec();
    };
    lines
        .iter()
        .flat_map(|line| textwrap::wrap(line, usize::from(width).max(20)))
        .map(|line| line.into_owned())
        .collect()
}

/// The board, even if a thread panicked holding it (it holds no invariant a panic could break).
fn lock(board: &Mutex<Board>) -> MutexGuard<'_, Board> {
    board
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Stdin lines in, JSON or plain text out: for programs, tests and pipes.
async fn play_on_pipes(
    Session {
        name,
        place,
        alone,
        options,
        replay,
    }: Session<'_>,
    json: bool,
    transport: impl Link,
    theme: Theme,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<Played> {
    let board = Arc::new(Mutex::new(Board::new(&render::text_for_screen(
        name,
        theme.ascii,
    ))));
    if !json {
        out!(
            "[{} joining {place}]",
            render::text_for_screen(name, theme.ascii)
        );
        warn_before_timeouts(board.clone(), |line| out!("{line}"));
        let board = board.clone();
        tokio::spawn(async move {
            tokio::time::sleep(gamecast::view::ALONE_AFTER).await;
            if lock(&board).phase == Phase::Chat {
                out!("[{alone}]");
            }
        });
    }
    let (lines_tx, lines) = mpsc::channel(64);
    {
        let board = board.clone();
        tokio::spawn(async move {
            let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(line)) = stdin.next_line().await {
                // --json is the interface for programs: what they write is sent as written.
                let line = if json {
                    line
                } else {
                    // Routed first: the board's lock must be let go before `typed` takes it.
                    let routed = command::route(&line, &lock(&board));
                    match routed {
                        Routed::Send(line) => typed(&board, line),
                        Routed::Local(answer) => {
                            answer.iter().for_each(|l| out!("{l}"));
                            continue;
                        }
                    }
                };
                if lines_tx.send(line).await.is_err() {
                    break;
                }
            }
            // Dropping the sender is the end of input: the player leaves. A replay goes on
            // to the recording's end.
            if replay {
                std::future::pending::<()>().await;
            }
        });
    }
    let style = Style {
        colour: render::colour_wanted(false),
        ascii: theme.ascii,
        width: None,
    };
    let show = move |event: Event| {
        if json {
            out!("{}", event.to_json());
        } else {
            let event = render::event_for_screen(event, style.ascii);
            lock(&board).apply(&event, std::time::Instant::now());
            out!("{}", style.event(&event));
        }
    };
    player::play(name, transport, options, lines, show, shutdown).await
}

/// A line editor at the bottom, events printed above it so that they never garble the line
/// being typed.
async fn play_in_terminal(
    Session {
        name,
        place,
        alone,
        options,
        ..
    }: Session<'_>,
    transport: impl Link,
    theme: Theme,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<Played> {
    let board = Arc::new(Mutex::new(Board::new(&render::text_for_screen(
        name,
        theme.ascii,
    ))));
    let mut editor = rustyline::DefaultEditor::new()?;
    let mut printer = editor.create_external_printer()?;
    let editor_printer = editor.create_external_printer()?;
    // The editor puts the terminal in raw mode while it reads; if the game ends while it does
    // (the announcer closes it), we leave without it, so we restore the terminal ourselves.
    let saved = nix::sys::termios::tcgetattr(std::io::stdin()).ok();
    let mut answers = editor.create_external_printer()?;
    let mut notes = editor.create_external_printer()?;
    let mut warnings = editor.create_external_printer()?;
    warn_before_timeouts(board.clone(), move |line| {
        let _ = warnings.print(format!("{}\r\n", fitted(&[line]).join("\r\n")));
    });
    let shown = render::text_for_screen(name, theme.ascii);
    let _ = notes.print(format!("[{shown} joining {place}]\r\n"));
    {
        let board = board.clone();
        tokio::spawn(async move {
            tokio::time::sleep(gamecast::view::ALONE_AFTER).await;
            if lock(&board).phase == Phase::Chat {
                let _ = notes.print(format!(
                    "{}\r\n",
                    fitted(&[format!("[{alone}]")]).join("\r\n")
                ));
            }
        });
    }
    let (lines_tx, lines) = mpsc::channel(64);
    {
        let board = board.clone();
        std::thread::spawn(move || {
            loop {
                let line = match editor.readline(PROMPT) {
                    Ok(line) => line,
                    // Ctrl-C while typing: leave as if `quit` was typed.
                    Err(rustyline::error::ReadlineError::Interrupted) => "quit".to_string(),
                    Err(_) => break, // Ctrl-D or a closed terminal: end of input
                };
                let _ = editor.add_history_entry(line.as_str());
                // A `/` command is answered here and never sent.
                // Routed first: the board's lock must be let go before `typed` takes it.
                let routed = command::route(&line, &lock(&board));
                let line = match routed {
                    Routed::Send(line) => typed(&board, line),
                    Routed::Local(answer) => {
                        let _ = answers.print(format!("{}\r\n", fitted(&answer).join("\r\n")));
                        continue;
                    }
                };
                if lines_tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
    }
    let mut style = Style {
        colour: render::colour_wanted(true),
        ascii: theme.ascii,
        width: None,
    };
    let show = move |event: Event| {
        let event = render::event_for_screen(event, style.ascii);
        lock(&board).apply(&event, std::time::Instant::now());
        // Read at each event: a resized terminal wraps the next lines to its new width.
        style.width = crossterm::terminal::size()
            .ok()
            .map(|(w, _)| usize::from(w));
        // In raw mode a bare "\n" moves down without returning to the first column.
        let text = style.wrapped(&event).replace('\n', "\r\n");
        let _ = printer.print(format!("{text}\r\n"));
    };
    let mut printer_left = editor_printer;
    let outcome = player::play(name, transport, options, lines, show, shutdown).await;
    // The editor prints what it was handed on its own thread, then draws its prompt again.
    // Handing it one more (empty) line waits until it took the last event; the pause lets it
    // finish drawing, so that clearing its prompt below is the last thing on the screen.
    let _ = printer_left.print(String::new());
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    if let Some(saved) = saved {
        let _ = nix::sys::termios::tcsetattr(
            std::io::stdin(),
            nix::sys::termios::SetArg::TCSANOW,
            &saved,
        );
    }
    // Erase the prompt the editor left on the last line.
    print!("\r\x1b[K");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    outcome
}
