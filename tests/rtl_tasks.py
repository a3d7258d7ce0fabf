"""Small RTL tasks in the VerilogEval v2 spec-to-rtl layout, written for the `rtl` reward's tests and benchmark.

Each task is the reward's reference fields (`task_id`, `ref`, `test`) plus `solution` (the
reference as TopModule) and a few candidate designs. `count2x` has a deliberately bloated
reference (two counters kept in lock step, which synthesis cannot prove equal), so a lean
candidate beats its PPA and a three-counter one loses to it.
"""

from __future__ import annotations

ADD8_PORTS = "input [7:0] a,\n  input [7:0] b,\n  output [8:0] sum"
ADD8 = {
    "task_id": "add8",
    "ref": f"module RefModule (\n  {ADD8_PORTS}\n);\n  assign sum = a + b;\nendmodule\n",
    "test": """`timescale 1 ps/1 ps
module tb;
  reg [7:0] a, b;
  wire [8:0] sum_ref, sum_dut;
  integer mismatches = 0, samples = 0, i;
  RefModule good1 (.a(a), .b(b), .sum(sum_ref));
  TopModule top_module1 (.a(a), .b(b), .sum(sum_dut));
  initial begin
    for (i = 0; i < 300; i = i + 1) begin
      {a, b} = $random;
      #5;
      samples = samples + 1;
      if (sum_ref !== sum_dut) mismatches = mismatches + 1;
    end
    $display("Mismatches: %0d in %0d samples", mismatches, samples);
    $finish;
  end
  initial begin
    #1000000 $display("TIMEOUT");
    $finish;
  end
endmodule
""",
}
ADD8["solution"] = ADD8["ref"].replace("RefModule", "TopModule")

COUNTER_TB = """`timescale 1 ps/1 ps
module tb;
  reg clk = 0, reset = 1;
  wire [3:0] q_ref, q_dut;
  integer mismatches = 0, samples = 0;
  always #5 clk = ~clk;
  RefModule good1 (.clk(clk), .reset(reset), .q(q_ref));
  TopModule top_module1 (.clk(clk), .reset(reset), .q(q_dut));
  initial begin
    repeat (2) @(posedge clk);
    reset = 0;
    repeat (200) begin
      @(negedge clk);
      reset = ($random & 31) == 0;
      samples = samples + 1;
      if (q_ref !== q_dut) mismatches = mismatches + 1;
    end
    $display("Mismatches: %0d in %0d samples", mismatches, samples);
    $finish;
  end
  initial begin
    #1000000 $display("TIMEOUT");
    $finish;
  end
endmodule
"""


def counters(name: str, copies: int) -> str:
    """A 4-bit counter with synchronous reset built from `copies` identical counters ANDed together (same function)."""
    regs = "\n".join(f"  reg [3:0] c{i};" for i in range(copies))
    steps = "\n".join(f"    c{i} <= reset ? 4'd0 : c{i} + 4'd1;" for i in range(copies))
    anded = " & ".join(f"c{i}" for i in range(copies))
    return (
        f"module {name} (\n  input clk,\n  input reset,\n  output [3:0] q\n);\n{regs}\n"
        f"  always @(posedge clk) begin\n{steps}\n  end\n  assign q = {anded};\nendmodule\n"
    )


COUNT2X = {"task_id": "count2x", "ref": counters("RefModule", 2), "test": COUNTER_TB}
COUNT2X["solution"] = counters("TopModule", 2)
LEAN_COUNTER = counters("TopModule", 1)
BLOATED_COUNTER = counters("TopModule", 3)
TASKS = (ADD8, COUNT2X)


def reference(task: dict) -> dict:
    """The reward's reference fields of `task`."""
    return {key: task[key] for key in ("task_id", "ref", "test")}


def fenced(source: str, tag: str = "verilog") -> str:
    """`source` as a model would answer: a sentence, then a fenced block."""
    return f"Here is the design.\n\n```{tag}\n{source}```\n"
