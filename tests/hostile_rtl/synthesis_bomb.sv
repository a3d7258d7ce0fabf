// expect: synthesis: (wall-clock timeout|CPU time limit|aborted|killed)
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  reg [8:0] table_ [0:65535];
  always @(a or b) table_[{a, b}] = a + b;
  assign sum = table_[{a, b}];
endmodule
