// expect: line 3: delay '#' is not allowed
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  reg [8:0] s;
  always @(a or b) s <= #4 a ^ b;  // delays only play with simulation time: synthesis drops them
  assign sum = s;
endmodule
