//! The `select!` macro: parses crossbeam-channel's case syntax, binds one arm
//! per case (each in its own macro expansion, so that the arms' hygienic
//! names differ), runs [`select`](super::select::select) and dispatches to the
//! body of the arm that completed.

/// Waits on several channel operations and runs the body of the one that
/// completes; Go's `select`, with crossbeam-channel's syntax:
///
/// * `recv(rx) -> res => body`: `res` is `Result<T, RecvError>` (`Err` once
///   the channel is closed and drained, which counts as ready);
/// * `send(tx, value) -> res => body`: `res` is `Result<(), SendError<T>>`
///   (`Err`, with the value, if the channel is closed);
/// * `default => body` (or `default() => body`): runs if no operation is
///   ready right away;
/// * `default(timeout) => body`: runs if none became ready within `timeout`.
///
/// `rx` and `tx` may be handles, references to them, or anything that
/// reaches one through `Deref` (a `Box`, an `Rc`, a wrapper type). A trailing
/// comma inside the parentheses is allowed (`send(tx, 1,)`). Bodies are
/// blocks or expressions followed by a comma; the macro's value is the
/// body's value. Without any case, `select! {}` parks forever, as Go's
/// `select {}` does.
///
/// When several operations are ready, one is chosen uniformly at random
/// ([`select_biased!`](crate::select_biased!) takes the first). A select with
/// nothing ready parks until the first of its channels can proceed. As in
/// Go, every channel expression and every value to send is evaluated once,
/// in order, when the select starts; the values of send cases that are not
/// chosen are dropped before the body runs (all of them, even if
/// destructors panic; then the first panic propagates). To switch a case
/// off, give it a [`never`](crate::never) receiver (Go's nil channel).
/// The repository's docs/channels.md lists where this follows Go and where
/// crossbeam-channel.
///
/// # Panics
///
/// When it has to block outside a goroutine.
///
/// ```
/// use std::time::Duration;
/// gosched::run(|| {
///     let (tx1, rx1) = gosched::chan::<i32>(0);
///     let (tx2, rx2) = gosched::chan::<&str>(0);
///     // Clones: a sender dropping its end would close the channel, and a
///     // closed channel is always ready (its receive yields `Err`).
///     let t1 = tx1.clone();
///     gosched::go(move || t1.send(1).unwrap());
///     let t2 = tx2.clone();
///     gosched::go(move || t2.send("two").unwrap());
///     let mut got = Vec::new();
///     for _ in 0..2 {
///         gosched::select! {
///             recv(rx1) -> v => got.push(v.unwrap().to_string()),
///             recv(rx2) -> v => got.push(v.unwrap().to_string()),
///         }
///     }
///     got.sort();
///     assert_eq!(got, ["1", "two"]);
///
///     let (tx, rx) = gosched::chan::<i32>(0);
///     let sent = gosched::select! {
///         send(tx, 5) -> res => res.is_ok(),
///         default(Duration::from_millis(5)) => false, // nobody receives
///     };
///     assert!(!sent);
///     drop(rx);
/// });
/// ```
#[macro_export]
macro_rules! select {
    ($($case:tt)*) => {{
        // Read by `__select_bind` (an item, so visible across the expansions).
        const __GOSCHED_SELECT_BIASED: bool = false;
        $crate::__select_parse!(@cases [] @default [] @rest $($case)*)
    }};
}

/// [`select!`](crate::select!) that tries its operations in the order they
/// are written: when several are ready, the first of them completes (where
/// `select!` picks one at random). crossbeam-channel's `select_biased!`; same
/// syntax as `select!`.
///
/// Go has no such select: use it for priorities ("drain `urgent` before
/// looking at `rest`"), knowing that a busy first channel starves the others.
///
/// # Panics
///
/// When it has to block outside a goroutine.
///
/// ```
/// gosched::run(|| {
///     let (urgent_tx, urgent) = gosched::chan::<&str>(4);
///     let (rest_tx, rest) = gosched::chan::<&str>(4);
///     rest_tx.send("later").unwrap();
///     urgent_tx.send("now").unwrap();
///     let first = gosched::select_biased! {
///         recv(urgent) -> v => v.unwrap(),
///         recv(rest) -> v => v.unwrap(),
///     };
///     assert_eq!(first, "now"); // both were ready: the first arm wins
/// });
/// ```
#[macro_export]
macro_rules! select_biased {
    ($($case:tt)*) => {{
        const __GOSCHED_SELECT_BIASED: bool = true;
        $crate::__select_parse!(@cases [] @default [] @rest $($case)*)
    }};
}

/// Parses the cases into `((kind args) {body})` items and the default into
/// `[(timeout-or-none) {body}]`. A trailing comma inside an operation's
/// parentheses is allowed, as in crossbeam-channel.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // All cases parsed.
    (@cases $cases:tt @default $default:tt @rest) => {
        $crate::__select_bind!(@todo $cases @bound [] @sends [] @default $default)
    };
    // Case heads; the body is parsed next.
    (@cases $c:tt @default $d:tt @rest recv($rx:expr $(,)?) -> $res:pat => $($rest:tt)*) => {
        $crate::__select_parse!(@body (recv $rx, $res) @cases $c @default $d @rest $($rest)*)
    };
    (@cases $c:tt @default $d:tt @rest send($tx:expr, $v:expr $(,)?) -> $res:pat => $($rest:tt)*) => {
        $crate::__select_parse!(@body (send $tx, $v, $res) @cases $c @default $d @rest $($rest)*)
    };
    (@cases $c:tt @default $d:tt @rest default $(())? => $($rest:tt)*) => {
        $crate::__select_parse!(@body (default) @cases $c @default $d @rest $($rest)*)
    };
    (@cases $c:tt @default $d:tt @rest default($t:expr $(,)?) => $($rest:tt)*) => {
        $crate::__select_parse!(@body (default $t) @cases $c @default $d @rest $($rest)*)
    };
    (@cases $c:tt @default $d:tt @rest $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "select!: expected `recv(rx) -> res => body`, `send(tx, value) -> res => body`, ",
            "`default => body` or `default(timeout) => body`, found: ",
            ::core::stringify!($($rest)+)
        ))
    };
    // Bodies: a block (comma optional) or an expression (comma unless last).
    (@body $head:tt @cases $c:tt @default $d:tt @rest $body:block, $($rest:tt)*) => {
        $crate::__select_parse!(@push $head $body @cases $c @default $d @rest $($rest)*)
    };
    (@body $head:tt @cases $c:tt @default $d:tt @rest $body:block $($rest:tt)*) => {
        $crate::__select_parse!(@push $head $body @cases $c @default $d @rest $($rest)*)
    };
    (@body $head:tt @cases $c:tt @default $d:tt @rest $body:expr, $($rest:tt)*) => {
        $crate::__select_parse!(@push $head { $body } @cases $c @default $d @rest $($rest)*)
    };
    (@body $head:tt @cases $c:tt @default $d:tt @rest $body:expr) => {
        $crate::__select_parse!(@push $head { $body } @cases $c @default $d @rest)
    };
    // Filing the parsed case.
    (@push (default $($t:expr)?) $body:tt @cases $c:tt @default [] @rest $($rest:tt)*) => {
        $crate::__select_parse!(@cases $c @default [($($t)?) $body] @rest $($rest)*)
    };
    (@push (default $($t:expr)?) $body:tt @cases $c:tt @default [$($d:tt)+] @rest $($rest:tt)*) => {
        ::core::compile_error!("select!: more than one `default` case")
    };
    (@push $head:tt $body:tt @cases [$($c:tt)*] @default $d:tt @rest $($rest:tt)*) => {
        $crate::__select_parse!(@cases [$($c)* ($head $body)] @default $d @rest $($rest)*)
    };
}

/// Binds one arm per case, each in a nested expansion, then runs the select.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_bind {
    (@todo [((recv $rx:expr, $res:pat) $body:tt) $($todo:tt)*] @bound [$($b:tt)*] @sends $s:tt @default $d:tt) => {
        // A `match` keeps temporaries in `$rx` alive for the whole select; the
        // typed `let` reaches the receiver through references and `Deref`.
        match &$rx {
            __select_rx => {
                let __select_rx: &$crate::Receiver<_> = __select_rx;
                let mut __select_arm = $crate::chan::__private::RecvArm::new(__select_rx);
                $crate::__select_bind!(
                    @todo [$($todo)*] @bound [$($b)* (__select_arm $res $body)] @sends $s @default $d
                )
            }
        }
    };
    (@todo [((send $tx:expr, $v:expr, $res:pat) $body:tt) $($todo:tt)*] @bound [$($b:tt)*] @sends [$($s:tt)*] @default $d:tt) => {
        match (&$tx, $v) {
            (__select_tx, __select_v) => {
                let __select_tx: &$crate::Sender<_> = __select_tx;
                let mut __select_arm = $crate::chan::__private::SendArm::new(__select_tx, __select_v);
                $crate::__select_bind!(
                    @todo [$($todo)*] @bound [$($b)* (__select_arm $res $body)]
                    @sends [$($s)* __select_arm] @default $d
                )
            }
        }
    };
    // No operation at all: wait forever, or for the timeout, or not at all.
    (@todo [] @bound [] @sends [] @default $d:tt) => {{
        let _ = $crate::chan::__private::select(
            &mut [],
            $crate::__select_timeout!($d),
            __GOSCHED_SELECT_BIASED,
        );
        $crate::__select_default!($d)
    }};
    (@todo [] @bound [$(($arm:ident $res:tt $body:tt))+] @sends [$($send:ident)*] @default $d:tt) => {{
        let _ = $crate::chan::__private::select(
            &mut [$(&mut $arm as &mut dyn $crate::chan::__private::Arm),+],
            $crate::__select_timeout!($d),
            __GOSCHED_SELECT_BIASED,
        );
        // The values of the send cases not chosen, dropped before the body
        // runs; a select without send cases has nothing to do here.
        $crate::__select_drop_unsent!($($send)*);
        $(
            if $arm.is_fired() {
                let $res = $arm.take();
                $body
            } else
        )+ {
            $crate::__select_default!($d)
        }
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_timeout {
    ([]) => {
        $crate::chan::__private::Timeout::Never
    };
    ([() $body:tt]) => {
        $crate::chan::__private::Timeout::Now
    };
    ([($t:expr) $body:tt]) => {
        $crate::chan::__private::Timeout::After($t)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_default {
    ([]) => {
        ::core::unreachable!("select! returned without a completed case")
    };
    ([$t:tt $body:tt]) => {
        $body
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_drop_unsent {
    () => {};
    ($($send:ident)+) => {
        $crate::chan::__private::drop_unsent(&mut [$(&mut $send as &mut dyn $crate::chan::__private::Arm),+])
    };
}
