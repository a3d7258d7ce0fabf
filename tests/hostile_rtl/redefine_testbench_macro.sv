// expect: line 1: name OK belongs to the testbench or the reference
`define OK 13
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = 9'd0;
endmodule
