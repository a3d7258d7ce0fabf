// expect: line 3: '::' is not allowed in synthesisable RTL
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  wire [8:0] s;
  assign sum = std::randomize(s) ? a + b : 9'd0;
endmodule
