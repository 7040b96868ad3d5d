(module
  ;; sched.wat with the suspend three calls deep in the continuation
  ;; ($d3 -> $d2 -> $d1) and the resume three calls deep in the scheduler
  ;; ($s3 -> $s2 -> $s1), as in gosched (recv -> park -> suspend;
  ;; run loop -> switch_to -> resume).
  (type $ft (func))
  (type $ct (cont $ft))
  (tag $y)
  (table $conts 20001 (ref null $ct))
  (func $d1 (suspend $y))
  (func $d2 (call $d1))
  (func $d3 (call $d2))
  (func $g (loop $l (call $d3) (br $l)))
  (func $s1 (param $i i32)
    (table.set $conts (local.get $i)
      (block $on (result (ref $ct))
        (resume $ct (on $y $on) (table.get $conts (local.get $i)))
        (unreachable))))
  (func $s2 (param $i i32) (call $s1 (local.get $i)))
  (func $s3 (param $i i32) (call $s2 (local.get $i)))
  (elem declare func $g)
  (func (export "run") (param $n i32) (param $h i32) (result i32)
    (local $i i32)
    (loop $mk
      (table.set $conts (local.get $i) (cont.new $ct (ref.func $g)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $mk (i32.lt_u (local.get $i) (local.get $n))))
    (local.set $i (i32.const 0))
    (loop $hop
      (call $s3 (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (if (i32.eq (local.get $i) (local.get $n)) (then (local.set $i (i32.const 0))))
      (local.set $h (i32.sub (local.get $h) (i32.const 1)))
      (br_if $hop (local.get $h)))
    (local.get $h)))
