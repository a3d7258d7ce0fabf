// expect: (simulation|syntax|does not fit the testbench): .*(limit|aborted|killed|memory|timeout|segmentation)
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  reg [63:0] mem [0:(1 << 30) - 1];
  always @(a or b) mem[{a, b}] = a * b;
  assign sum = a + b;
endmodule
